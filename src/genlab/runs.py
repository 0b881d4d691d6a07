"""Run folders from the outside: the standard hooks of `genlab train`, and loading a finished run.

A run folder holds config.yaml, metrics.jsonl, checkpoints/ (see `genlab.core.checkpoint`),
samples/ and loss.png, and with tracking backends (`train.loggers`) trackers.json and their files
(tensorboard/, mlruns/, wandb/). `load_run` (which also loads `genlab export` folders, see
`genlab.export`) and `Run` live in `genlab.train.build` (the trainer builds models with upstream runs
through the same code) and are re-exported here.
"""

from __future__ import annotations

from genlab.config import Config
from genlab.eval.hooks import PeriodicEvaluation
from genlab.train.build import Run, is_export, load_run
from genlab.train.trainer import Hook
from genlab.viz.hooks import LossPlot, SampleGrid


def standard_hooks(cfg: Config) -> list[Hook]:
    """What `genlab train` attaches: sample grids, periodic evaluation and the loss plot.

    Example:
        With them, a 2-step run also writes its final samples and the loss plot:

        >>> import tempfile
        >>> from genlab import load_config
        >>> cfg = load_config("vae-digits", ["data.name=8gaussians", "data.n_samples=256", "train.steps=2",
        ...                                  "train.device=cpu", "train.progress=false"])
        >>> from pathlib import Path
        >>> from genlab import Trainer
        >>> [type(hook).__name__ for hook in standard_hooks(cfg)]
        ['SampleGrid', 'PeriodicEvaluation', 'LossPlot']
        >>> with tempfile.TemporaryDirectory() as run_dir:
        ...     with Trainer(cfg, run_dir, hooks=standard_hooks(cfg)) as trainer:
        ...         _ = trainer.fit()
        ...     print(sorted(p.name for p in Path(run_dir).iterdir() if not p.name.startswith(".")))
        ['checkpoints', 'config.yaml', 'loss.png', 'metrics.jsonl', 'samples']
    """
    t = cfg.train
    return [SampleGrid(t.sample_every, t.n_samples), PeriodicEvaluation(t.eval_every), LossPlot()]


__all__ = ["Run", "is_export", "load_run", "standard_hooks"]
