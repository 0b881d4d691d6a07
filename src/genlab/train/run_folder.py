"""Run-folder policy, in one place for the `genlab train` command and the `Trainer`.

A run folder holds one run. Starting a run where one already is (checkpoints or a metrics log) is
refused unless the caller resumes it or asks to overwrite it; asking for both is refused too. The
folder is locked (`genlab.train.runlock.RunLock`) before anything in it is deleted or written, so
two processes never train into, or clear, the same folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from genlab.core.checkpoint import clean_checkpoints
from genlab.core.errors import ConfigError
from genlab.train.runlock import RunLock

# What a run writes, and so what overwriting deletes (config.yaml is rewritten by the new run).
# mlruns and wandb: the default MLflow file store and W&B's run files (genlab.train.loggers).
RUN_FOLDERS = ("checkpoints", "samples", "tensorboard", "mlruns", "wandb")
RUN_FILES = ("metrics.jsonl", "eval.json", "loss.png", "trackers.json")


def holds_run(run_dir: str | Path) -> bool:
    """Whether `run_dir` already holds a run (checkpoints or a metrics log)."""
    run_dir = Path(run_dir)
    return (run_dir / "checkpoints").is_dir() or (run_dir / "metrics.jsonl").is_file()


def check_run_folder(run_dir: str | Path, *, resume: bool, overwrite: bool) -> None:
    """ConfigError if `resume` and `overwrite` are both asked, or `run_dir` holds a run and neither is.

    Cheap and lock-free, so a command can refuse before loading any data; `claim_run_folder`
    checks again under the lock.
    """
    if resume and overwrite:
        raise ConfigError("--resume and --overwrite (resume=True, overwrite=True) contradict each other: "
                          "resume continues the run in the folder, overwrite deletes it; pick one")
    if not resume and not overwrite and holds_run(run_dir):
        raise ConfigError(f"{run_dir} already holds a run; continue it (--resume, resume=True), start over "
                          "(--overwrite, overwrite=True) or use a new folder")


def clear_run(run_dir: str | Path) -> None:
    """Delete what a previous run wrote in `run_dir` (hold its lock first)."""
    run_dir = Path(run_dir)
    for name in RUN_FOLDERS:
        shutil.rmtree(run_dir / name, ignore_errors=True)
    for name in RUN_FILES:
        (run_dir / name).unlink(missing_ok=True)


def claim_run_folder(run_dir: str | Path, *, resume: bool, overwrite: bool = False) -> RunLock:
    """Lock `run_dir` (creating it), apply the policy of `check_run_folder`, clear a run being
    overwritten and leftovers of interrupted checkpoint writes; returns the held lock. On any
    refusal the lock is released and nothing is deleted."""
    lock = RunLock(run_dir)
    try:
        check_run_folder(run_dir, resume=resume, overwrite=overwrite)
        if overwrite:
            clear_run(run_dir)
        clean_checkpoints(Path(run_dir) / "checkpoints")
    except BaseException:
        lock.release()
        raise
    return lock


__all__ = ["RUN_FILES", "RUN_FOLDERS", "check_run_folder", "claim_run_folder", "clear_run", "holds_run"]
