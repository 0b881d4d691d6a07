"""Trainer hooks that draw: a sample grid every `every` steps and the loss plot at the end."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from genlab.core.protocol import Sampler
from genlab.core.rng import isolated_rng
from genlab.train.runlog import read_metrics
from genlab.viz import plot_losses, save_samples

if TYPE_CHECKING:
    from genlab.train.trainer import Trainer


@dataclass
class SampleGrid:
    """RUN/samples/step-N.png from the EMA weights (if any), drawn with the evaluation seed so
    it never disturbs the training random stream, and sent to the run's tracking backends; only for
    models that can sample."""

    every: int = 0  # 0: at the end only
    n: int = 64

    def due(self, step: int, end: bool) -> bool:
        return end or (self.every > 0 and step % self.every == 0)

    @torch.no_grad()
    def __call__(self, trainer: Trainer) -> None:
        model = trainer.model
        if not isinstance(model, Sampler):
            return
        with isolated_rng(trainer.cfg.eval.seed, trainer.device), trainer.ema_weights():
            model.eval()
            try:
                samples = model.sample(self.n)
            finally:
                model.train()
        path = trainer.run_dir / "samples" / f"step-{trainer.step:07d}.png"
        written = save_samples(samples, path, trainer.dataset, trainer.pixels, f"step {trainer.step}")
        trainer.loggers.artifact(written, trainer.step, "samples")


@dataclass
class LossPlot:
    """RUN/loss.png: every logged training scalar against the step, at the end of training (also sent
    to the run's tracking backends)."""

    def due(self, step: int, end: bool) -> bool:
        return end

    def __call__(self, trainer: Trainer) -> None:
        written = plot_losses(read_metrics(trainer.run_dir / "metrics.jsonl"), trainer.run_dir / "loss.png")
        if written is not None:  # None: nothing to plot
            trainer.loggers.artifact(written, trainer.step)
