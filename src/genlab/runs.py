"""Run folders from the outside: the standard hooks of `genlab train`, and loading a finished run.

A run folder holds config.yaml, metrics.jsonl, checkpoints/ (see `genlab.train.checkpoint`),
samples/ and loss.png. `load_run` rebuilds the model of its latest checkpoint for sampling and
evaluation from the checkpoint alone (data shape and pixel transform are stored in it); the dataset
is loaded only when asked for, so a run folder can be sampled on a machine without the data.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from genlab.config import Config
from genlab.core.errors import ConfigError, GenlabError
from genlab.core.protocol import DataSpec, Model
from genlab.data import Dataset, Pixels, load_dataset, pixels_for
from genlab.eval.hooks import PeriodicEvaluation
from genlab.models import build_model
from genlab.optim import flat_params
from genlab.train.checkpoint import check_weights_fit, latest_checkpoint, load_checkpoint
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
             data_dir: str | None = None) -> Run:
    """The model of `run_dir`'s latest checkpoint (EMA weights where kept, rank 0's extra state such
    as a replay buffer), in eval mode; `data_dir` overrides where the dataset is looked for when it
    is needed."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ConfigError(f"run folder {run_dir} does not exist")
    path = latest_checkpoint(run_dir / "checkpoints")
    if path is None:
        raise ConfigError(f"{run_dir} has no checkpoint (is it a genlab run folder?)")
    dev = resolve_device(device)
    weights, state = load_checkpoint(path, dev)
    cfg = Config.from_dict(json.loads(state["config"]))
    run = Run(None, cfg, None, path, False, data_dir)  # type: ignore[arg-type]
    if state.get("data_spec") and "pixels" in state:
        raw = json.loads(state["data_spec"])
        spec = DataSpec(**{**raw, "shape": tuple(raw["shape"])})
        run.pixels = Pixels(**json.loads(state["pixels"])) if state["pixels"] else None
    else:  # checkpoints from before the pixel transform was stored: learn it from the data
        spec = run.dataset.spec
        run.pixels = pixels_for(run.dataset, cfg.data)
    torch.manual_seed(cfg.train.seed)
    model = build_model(cfg.model.name, cfg.model.params, spec).to(dev)
    check_weights_fit(model.state_dict(), weights, path)
    model.load_state_dict(weights)
    model.load_extra_state((state.get("extra") or [{}])[0])  # rank 0's, e.g. an EBM's replay buffer
    applied = use_ema and bool(state["ema"])
    if applied:
        groups = {g: flat_params(v) for g, v in model.param_groups().items()}
        with torch.no_grad():
            for g, ema in state["ema"].items():
                for p, s in zip(groups[g], ema["shadow"]):
                    p.copy_(s)
    model.eval()
    run.model, run.ema_weights = model, applied
    return run
