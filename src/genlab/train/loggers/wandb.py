"""Weights & Biases: the config, every logged scalar at its step, evaluation results in the run
summary, sample grids, loss.png and eval.json saved as run files.

Files go to RUN/wandb. `train.wandb_mode=offline` (or WANDB_MODE=offline) needs no account or
network; `wandb sync RUN/wandb/offline-run-*` uploads later. Online mode needs a login (`wandb login`
or WANDB_API_KEY), checked before training. Needs `wandb` (the `track` extra).
"""

from __future__ import annotations

import netrc
import os
import secrets
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from genlab.config import Config
from genlab.core.errors import ConfigError
from genlab.train.loggers.base import LOGGERS, missing_extra


def wandb_mode(cfg: Config) -> str:
    return cfg.train.wandb_mode or os.environ.get("WANDB_MODE") or "online"


def has_login() -> bool:
    """Whether W&B credentials are at hand without asking the server: WANDB_API_KEY or a netrc entry
    for the W&B host (where `wandb login` saves the key)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or ""
    try:
        return netrc.netrc(os.environ.get("NETRC")).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


@LOGGERS.register("wandb")
class WandbLogger:
    """One W&B run per genlab run; its id is kept in RUN/trackers.json so that `--resume` and
    `genlab eval` continue it."""

    name = "wandb"

    def __init__(self) -> None:
        self.run: Any = None
        self.run_dir = Path()

    @classmethod
    def check(cls, cfg: Config, run_dir: Path) -> None:
        try:
            import wandb  # noqa: F401
        except ImportError:
            raise missing_extra("wandb", "wandb") from None
        mode = wandb_mode(cfg)
        if mode not in ("online", "offline", "disabled", "dryrun", "run"):
            raise ConfigError(f"WANDB_MODE={mode!r} is not a W&B mode; use online or offline")
        if mode in ("online", "run") and not has_login():
            raise ConfigError("train.loggers: wandb in online mode needs a W&B login (`wandb login` or "
                              "WANDB_API_KEY); or set train.wandb_mode=offline")

    def start(self, run_dir: Path, cfg: Config, saved: dict[str, Any] | None,
              resume_step: int | None) -> tuple[dict[str, Any], int | None]:
        import wandb

        self.run_dir = run_dir
        project = saved["project"] if saved else cfg.train.wandb_project
        run_id = saved["id"] if saved else secrets.token_hex(4)  # W&B ids: [a-z0-9]
        try:
            self.run = wandb.init(
                project=project, id=run_id, resume="allow", dir=str(run_dir), name=run_dir.name,
                mode=wandb_mode(cfg), config=cfg.to_dict(),  # nested: shown as train.steps etc.
                # no stdout/stderr capture and no banner: genlab's own output stays as it is
                settings=wandb.Settings(console="off", silent=True),
            )
        except Exception as err:  # any refusal (login, network, disk) is an error before training
            text = str(err).strip().splitlines()
            raise ConfigError(f"train.loggers: wandb cannot start: {text[0] if text else type(err).__name__}"
                              ) from None
        return {"project": project, "id": run_id}, None

    def scalars(self, step: int, values: Mapping[str, float]) -> None:
        self.run.log(dict(values), step=step)

    def summary(self, step: int, values: Mapping[str, float]) -> None:
        self.run.summary.update(dict(values))

    def artifact(self, path: Path, step: int, folder: str = "") -> None:
        # copied into W&B's files folder under its path in the run folder (samples/step-N.png): a
        # file saved from outside would be a symbolic link, and W&B warns about each
        try:
            relative = path.resolve().relative_to(self.run_dir.resolve())
        except ValueError:  # e.g. `genlab eval -o elsewhere.json`
            relative = Path(folder, path.name)
        copy = Path(self.run.dir) / relative
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, copy)
        self.run.save(str(copy), base_path=self.run.dir, policy="now")

    def close(self, status: str = "FINISHED") -> None:
        if self.run is not None:
            self.run.finish(exit_code=0 if status == "FINISHED" else 1)
            self.run = None
