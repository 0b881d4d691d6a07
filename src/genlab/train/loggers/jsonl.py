"""RUN/metrics.jsonl: one JSON object per record, always written (the other backends are optional)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from genlab.config import Config
from genlab.train.loggers.base import LOGGERS
from genlab.train.runlog import cut_metrics


@LOGGERS.register("jsonl")
class JsonlLogger:
    """Appends records to RUN/metrics.jsonl. The file is opened per record (records come every
    `log_every` steps), so the log stays usable after `close()` and a crash never leaves a
    buffered, unwritten line."""

    name = "jsonl"

    def __init__(self) -> None:
        self.path: Path | None = None

    @classmethod
    def check(cls, cfg: Config, run_dir: Path) -> None:
        pass  # the run folder itself is checked by the trainer

    def start(self, run_dir: Path, cfg: Config, saved: dict[str, Any] | None,
              resume_step: int | None) -> tuple[dict[str, Any], int | None]:
        self.path = run_dir / "metrics.jsonl"
        if resume_step is not None:  # steps past the checkpoint are replayed: log them once
            cut_metrics(self.path, resume_step)
        return {}, resume_step

    def write(self, record: Mapping[str, Any]) -> None:
        """Append any JSON-able record (the trainer's error records too)."""
        assert self.path is not None, "start() first"
        with open(self.path, "a") as f:
            f.write(json.dumps(dict(record)) + "\n")

    def scalars(self, step: int, values: Mapping[str, float]) -> None:
        self.write({"step": step, **values})

    def summary(self, step: int, values: Mapping[str, float]) -> None:
        pass  # evaluation results have their own file, eval.json

    def artifact(self, path: Path, step: int, folder: str = "") -> None:
        pass  # artifacts already are files of the run folder

    def close(self, status: str = "FINISHED") -> None:
        pass
