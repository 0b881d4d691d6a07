"""Experiment tracking: where a run's scalars, config and artifacts are logged (rank 0 only).

`train.loggers` lists the backends of the registry `LOGGERS`: `jsonl` (RUN/metrics.jsonl, always
on), `tensorboard`, `mlflow` and `wandb` (optional packages: `pip install "genlab[track]"`). Each
backend receives the config as parameters, every logged scalar at its step, and the sample grids,
loss.png and, from `genlab eval`, eval.json and its numbers.

Every backend is checked when the trainer is built, before data is loaded: one that cannot start is
a one-line `ConfigError`. The tracked runs' ids are kept in RUN/trackers.json, so `--resume` and a
later `genlab eval RUN` continue the same tracked run. A resume replays the steps logged past its
checkpoint; a backend is not sent again the steps it already holds (MLflow reports them; otherwise
metrics.jsonl says up to where the run had logged), and since a resume is exact the values it skips
are the values it would have received. A backend that fails in the middle of a run is dropped with
one warning; training goes on.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from genlab.config import Config
from genlab.core.errors import ConfigError
from genlab.train.loggers import jsonl, mlflow, tensorboard, wandb  # noqa: F401  (registers them)
from genlab.train.loggers.base import (
    LOGGERS,
    TRACKERS_FILE,
    Logger,
    flatten_config,
    read_trackers,
    write_trackers,
)
from genlab.train.loggers.jsonl import JsonlLogger
from genlab.train.runlog import read_metrics


def numeric(record: Mapping[str, Any]) -> dict[str, float]:
    """The scalar entries of a record (not its step, not booleans, lists or strings)."""
    return {k: float(v) for k, v in record.items()
            if k != "step" and isinstance(v, (int, float)) and not isinstance(v, bool)}


class Loggers:
    """A run's loggers: metrics.jsonl plus the tracking backends, each of which is sent what it does
    not already hold. Built empty (every call a no-op) on ranks other than 0.

    Example:
        Logging into a run folder with only metrics.jsonl:

        >>> import tempfile
        >>> from genlab import load_config
        >>> cfg = load_config("vae-digits", ["data.name=8gaussians"])
        >>> with tempfile.TemporaryDirectory() as run_dir:
        ...     loggers = Loggers.open(cfg, Path(run_dir))
        ...     loggers.log({"step": 1, "loss": 0.5})
        ...     loggers.close()
        ...     print((Path(run_dir) / "metrics.jsonl").read_text().strip())
        {"step": 1, "loss": 0.5}
    """

    def __init__(self, jsonl_log: JsonlLogger | None = None, trackers: Mapping[str, Logger] | None = None,
                 skip_until: Mapping[str, int] | None = None):
        self.jsonl = jsonl_log
        self.trackers: dict[str, Logger] = dict(trackers or {})
        self.skip_until = dict(skip_until or {})  # name -> last step that backend already holds

    @staticmethod
    def check(cfg: Config, run_dir: Path) -> None:
        """A one-line ConfigError if a backend of train.loggers cannot start (cheap: no network)."""
        for name in cfg.train.loggers:
            LOGGERS.get(name).check(cfg, run_dir)

    @classmethod
    def open(cls, cfg: Config, run_dir: Path, resume_step: int | None = None) -> Loggers:
        """Start every backend of train.loggers into `run_dir`; with `resume_step` (the checkpoint a
        resume starts from) continue the tracked runs of RUN/trackers.json instead. ConfigError, with
        the backends already started closed again, if one cannot start."""
        resuming = resume_step is not None
        saved = read_trackers(run_dir) if resuming else {}
        logged = None
        if resuming:  # up to where the run had logged before it stopped (cut from the file next)
            logged = max((int(r["step"]) for r in read_metrics(run_dir / "metrics.jsonl")
                          if isinstance(r.get("step"), (int, float))), default=resume_step)
        jsonl_log = JsonlLogger()
        jsonl_log.start(run_dir, cfg, None, resume_step)
        started: dict[str, Logger] = {}
        skip: dict[str, int] = {}
        try:
            for name in cfg.train.loggers:
                if name == "jsonl":
                    continue
                logger = LOGGERS.get(name)()
                info, held = logger.start(run_dir, cfg, saved.get(name), resume_step)
                started[name] = logger
                saved[name] = info
                if resuming:
                    skip[name] = held if held is not None else logged
        except BaseException:
            for logger in started.values():
                logger.close("FAILED")
            raise
        if started:  # entries of backends not used this time stay, for a later resume with them
            write_trackers(run_dir, saved)
        return cls(jsonl_log, started, skip)

    @classmethod
    def reopen(cls, cfg: Config, run_dir: Path) -> Loggers:
        """The tracked runs of RUN/trackers.json, continued (for `genlab eval`); a backend that
        cannot start now is skipped with a warning."""
        trackers: dict[str, Logger] = {}
        for name, info in read_trackers(run_dir).items():
            try:
                logger_cls = LOGGERS.get(name)
                logger_cls.check(cfg, run_dir)
                logger = logger_cls()
                logger.start(run_dir, cfg, info, None)  # None: TensorBoard purges nothing
            except ConfigError as err:
                print(f"genlab: warning: not logging to {name}: {err}", file=sys.stderr)
                continue
            trackers[name] = logger
        return cls(None, trackers)

    def log(self, record: Mapping[str, Any]) -> None:
        """Append `record` (with its "step") to metrics.jsonl; send its scalars to the backends."""
        if self.jsonl is not None:
            self.jsonl.write(record)
        step = int(record["step"])
        values = numeric(record)
        if values:
            self._each("scalars", step, values, step=step)

    def summary(self, step: int, values: Mapping[str, float]) -> None:
        """Results of the run (evaluation numbers), as each backend shows them."""
        self._each("summary", step, dict(values))

    def artifact(self, path: str | Path, step: int, folder: str = "") -> None:
        """A file the run wrote (a sample grid, loss.png, eval.json), under `folder` where the
        backend keeps folders."""
        self._each("artifact", Path(path), step, folder)

    def close(self, status: str = "FINISHED") -> None:
        """End the tracked runs (status FINISHED, FAILED or KILLED); metrics.jsonl stays writable."""
        for name in list(self.trackers):
            self._each_one(name, "close", status)
        self.trackers.clear()

    def _each(self, method: str, *args: Any, step: int | None = None) -> None:
        for name in list(self.trackers):
            if step is not None and step <= self.skip_until.get(name, -1):
                continue  # a replayed step this backend already holds
            self._each_one(name, method, *args)

    def _each_one(self, name: str, method: str, *args: Any) -> None:
        try:
            getattr(self.trackers[name], method)(*args)
        except Exception as err:  # a tracker's failure must not stop training
            self.trackers.pop(name, None)
            text = str(err).strip().splitlines()
            print(f"genlab: warning: {name} logging failed ({text[0] if text else type(err).__name__}); "
                  f"continuing without {name}", file=sys.stderr)


def log_evaluation(cfg: Config, run_dir: Path, path: Path, step: int, values: Mapping[str, float]) -> None:
    """Log an evaluation (its numbers and the JSON file `path`) into the tracked runs of `run_dir`,
    at `step` (the evaluated checkpoint's); nothing if the run tracks nothing."""
    if not (run_dir / TRACKERS_FILE).is_file():
        return
    loggers = Loggers.reopen(cfg, run_dir)
    loggers.summary(step, values)
    loggers.artifact(path, step)
    loggers.close()


__all__ = ["LOGGERS", "Logger", "Loggers", "TRACKERS_FILE", "flatten_config", "log_evaluation", "numeric"]
