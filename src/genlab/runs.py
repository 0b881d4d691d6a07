"""Run folders from the outside: the standard hooks of `genlab train`, and loading a finished run.

A run folder holds config.yaml, metrics.jsonl, checkpoints/ (see `genlab.core.checkpoint`),
samples/ and loss.png. `load_run` rebuilds the model of its latest checkpoint for sampling and
evaluation from the checkpoint alone (data shape and pixel transform are stored in it; the model
loader itself is `genlab.models.saved`); the dataset is loaded only when asked for, so a run folder
can be sampled on a machine without the data.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from genlab.config import Config
from genlab.core.errors import GenlabError
from genlab.core.protocol import Model
from genlab.data import Dataset, Pixels, load_dataset
from genlab.eval.hooks import PeriodicEvaluation
from genlab.models.saved import load_saved_model
from genlab.train.trainer import Hook, resolve_device
from genlab.viz.hooks import LossPlot, SampleGrid


def standard_hooks(cfg: Config) -> list[Hook]:
    """What `genlab train` attaches: sample grids, periodic evaluation and the loss plot."""
    t = cfg.train
    return [SampleGrid(t.sample_every, t.n_samples), PeriodicEvaluation(t.eval_every), LossPlot()]


@dataclass
class Run:
    """A finished (or running) run, rebuilt from its latest checkpoint; `dataset` is loaded on
    first use (from `data_dir` if given, else the run's configured location)."""

    model: Model
    cfg: Config
    pixels: Pixels | None
    checkpoint: Path
    ema_weights: bool  # whether the model holds EMA weights (False if asked not to, or none kept)
    data_dir: str | None = None
    _dataset: Dataset | None = dataclasses.field(default=None, repr=False)

    @property
    def dataset(self) -> Dataset:
        """The run's dataset (DataError if it cannot be found)."""
        if self._dataset is None:
            data = self.cfg.data
            if self.data_dir is not None:
                data = dataclasses.replace(data, data_dir=self.data_dir)
            self._dataset = load_dataset(data, seed=self.cfg.train.seed)
        return self._dataset

    def dataset_or_none(self) -> Dataset | None:
        """The dataset if it can be loaded here, else None (e.g. for optional reference points)."""
        try:
            return self.dataset
        except GenlabError:
            return None


def load_run(run_dir: str | Path, device: str = "auto", use_ema: bool = True,
             data_dir: str | None = None, overrides: Sequence[str] = ()) -> Run:
    """The model of `run_dir`'s latest checkpoint (EMA weights where kept, rank 0's extra state such
    as a replay buffer), in eval mode; `data_dir` overrides where the dataset is looked for when it
    is needed; `overrides` (`model.KEY=VALUE`) set the model's runtime options (e.g. a diffusion
    model's sampler). See `genlab.models.saved.load_saved_model`."""
    saved = load_saved_model(run_dir, resolve_device(device), use_ema, data_dir, overrides)
    return Run(saved.model, saved.cfg, saved.pixels, saved.checkpoint, saved.ema_weights, data_dir,
               saved.dataset)
