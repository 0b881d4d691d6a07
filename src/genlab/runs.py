"""Run folders from the outside: the standard hooks of `genlab train`, and loading a finished run.

A run folder holds config.yaml, metrics.jsonl, checkpoints/ (see `genlab.train.checkpoint`),
samples/ and loss.png. `load_run` rebuilds the model of its latest checkpoint for sampling and
evaluation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from genlab.config import Config
from genlab.core.errors import ConfigError
from genlab.core.protocol import Model
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
    """A finished (or running) run, rebuilt from its latest checkpoint."""

    model: Model
    cfg: Config
    dataset: Dataset
    pixels: Pixels | None
    checkpoint: Path
    ema_weights: bool  # whether the model holds EMA weights (False if asked not to, or none kept)


def load_run(run_dir: str | Path, device: str = "auto", use_ema: bool = True) -> Run:
    """The model of `run_dir`'s latest checkpoint (EMA weights where kept), in eval mode."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ConfigError(f"run folder {run_dir} does not exist")
    path = latest_checkpoint(run_dir / "checkpoints")
    if path is None:
        raise ConfigError(f"{run_dir} has no checkpoint (is it a genlab run folder?)")
    dev = resolve_device(device)
    weights, state = load_checkpoint(path, dev)
    cfg = Config.from_dict(json.loads(state["config"]))
    dataset = load_dataset(cfg.data, seed=cfg.train.seed)
    torch.manual_seed(cfg.train.seed)
    model = build_model(cfg.model.name, cfg.model.params, dataset.spec).to(dev)
    check_weights_fit(model.state_dict(), weights, path)
    model.load_state_dict(weights)
    applied = use_ema and bool(state["ema"])
    if applied:
        groups = {g: flat_params(v) for g, v in model.param_groups().items()}
        with torch.no_grad():
            for g, ema in state["ema"].items():
                for p, s in zip(groups[g], ema["shadow"]):
                    p.copy_(s)
    model.eval()
    return Run(model, cfg, dataset, pixels_for(dataset, cfg.data), path, applied)
