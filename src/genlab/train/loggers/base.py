"""The `Logger` protocol every tracking backend implements, the registry of backends, and the
run-folder file (`RUN/trackers.json`) that lets a resumed run or a later `genlab eval` continue the
same tracked run."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Protocol

from genlab.config import Config
from genlab.core.errors import ConfigError
from genlab.core.registry import Registry

TRACKERS_FILE = "trackers.json"
INSTALL_HINT = 'pip install "genlab[track]"'


class Logger(Protocol):
    """One experiment-tracking backend of a run (rank 0 only).

    `check` runs when the trainer is built, before any data is loaded: a backend that cannot start
    (its package missing, its store not writable) raises a one-line `ConfigError` there. `start`
    opens the tracked run, or reopens the one `saved` describes (what an earlier `start` returned,
    kept in RUN/trackers.json), and returns that description plus the last step the backend
    already holds when it knows it (None: unknown). Steps up to there are not sent again.
    """

    name: ClassVar[str]

    @classmethod
    def check(cls, cfg: Config, run_dir: Path) -> None: ...

    def start(self, run_dir: Path, cfg: Config, saved: dict[str, Any] | None,
              resume_step: int | None) -> tuple[dict[str, Any], int | None]: ...

    def scalars(self, step: int, values: Mapping[str, float]) -> None: ...

    def summary(self, step: int, values: Mapping[str, float]) -> None: ...

    def artifact(self, path: Path, step: int, folder: str = "") -> None: ...

    def close(self, status: str = "FINISHED") -> None: ...


LOGGERS: Registry[type[Logger]] = Registry("logger")


def flatten_config(cfg: Config) -> dict[str, str]:
    """The config as `section.key` -> string (the parameters a tracker records)."""
    out: dict[str, str] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict) and node:
            for k, v in node.items():
                walk(v, f"{prefix}.{k}" if prefix else str(k))
        else:
            out[prefix] = json.dumps(node) if isinstance(node, (list, dict)) else str(node)

    walk(cfg.to_dict(), "")
    return out


def read_trackers(run_dir: Path) -> dict[str, dict[str, Any]]:
    """RUN/trackers.json: backend name -> what reopens its tracked run ({} if there is none)."""
    path = run_dir / TRACKERS_FILE
    if not path.is_file():
        return {}
    try:
        saved = json.loads(path.read_text())
    except ValueError:
        raise ConfigError(f"{path} is not valid JSON; delete it to start new tracked runs") from None
    if not isinstance(saved, dict):
        raise ConfigError(f"{path} must hold a JSON object; delete it to start new tracked runs")
    return saved


def write_trackers(run_dir: Path, saved: Mapping[str, dict[str, Any]]) -> None:
    """Replace RUN/trackers.json atomically (a kill never leaves half a file)."""
    path = run_dir / TRACKERS_FILE
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(dict(saved), indent=2) + "\n")
    os.replace(tmp, path)


def missing_extra(name: str, package: str) -> ConfigError:
    """The one-line error of a backend whose package is not installed."""
    return ConfigError(f"train.loggers: {name} needs the `{package}` package; {INSTALL_HINT} "
                       f"(or remove {name} from train.loggers)")


__all__ = ["INSTALL_HINT", "LOGGERS", "Logger", "TRACKERS_FILE", "flatten_config", "missing_extra",
           "read_trackers", "write_trackers"]
