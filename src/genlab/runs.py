"""Run folders from the outside: the standard hooks of `genlab train`, and loading a finished run.

A run folder holds config.yaml, metrics.jsonl, checkpoints/ (see `genlab.core.checkpoint`),
samples/ and loss.png. `load_run` and `Run` live in `genlab.train.build` (the trainer builds models
with upstream runs through the same code) and are re-exported here.
"""

from __future__ import annotations

from genlab.config import Config
from genlab.eval.hooks import PeriodicEvaluation
from genlab.train.build import Run, load_run
from genlab.train.trainer import Hook
from genlab.viz.hooks import LossPlot, SampleGrid


def standard_hooks(cfg: Config) -> list[Hook]:
    """What `genlab train` attaches: sample grids, periodic evaluation and the loss plot."""
    t = cfg.train
    return [SampleGrid(t.sample_every, t.n_samples), PeriodicEvaluation(t.eval_every), LossPlot()]


__all__ = ["Run", "load_run", "standard_hooks"]
