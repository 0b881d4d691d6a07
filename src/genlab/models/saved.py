"""A model rebuilt from a run folder's latest checkpoint, below the trainer and `genlab.runs`.

`genlab.runs.load_run` (sampling, `genlab eval`) and models built on another run (the VQ-VAE
prior's frozen first stage) both load through `load_saved_model`: the checkpoint format lives in
`genlab.core.checkpoint`, the model is built from the config stored in it through the registry.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from genlab.config import Config, apply_override
from genlab.core.checkpoint import check_weights_fit, latest_checkpoint, load_checkpoint
from genlab.core.errors import ConfigError
from genlab.core.protocol import DataSpec, Model
from genlab.data import Dataset, Pixels, load_dataset, pixels_for
from genlab.models.registry import build_model
from genlab.optim import flat_params


@dataclass
class SavedModel:
    """What `load_saved_model` rebuilt; `dataset` is set only when the checkpoint predates stored
    data specs and the data had to be loaded to learn the pixel transform."""

    model: Model
    cfg: Config
    pixels: Pixels | None
    checkpoint: Path
    ema_weights: bool  # whether the model holds EMA weights (False if asked not to, or none kept)
    dataset: Dataset | None = None


def load_saved_model(run_dir: str | Path, device: torch.device | str = "cpu", use_ema: bool = True,
                     data_dir: str | None = None, overrides: Sequence[str] = ()) -> SavedModel:
    """The model of `run_dir`'s latest checkpoint on `device`, in eval mode: EMA weights where kept
    (and `use_ema`), rank 0's extra state (e.g. an EBM's replay buffer). Seeds the global generator
    with the run's seed before building, as the trainer does. `data_dir` is where the data is
    looked for when an old checkpoint needs it. `overrides` (`model.KEY=VALUE`) change the model's
    runtime options, the config fields its class lists in `runtime_options` (a sampler, a number of
    sampling steps: fields that change no weights); any other key is a ConfigError."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ConfigError(f"run folder {run_dir} does not exist")
    path = latest_checkpoint(run_dir / "checkpoints")
    if path is None:
        raise ConfigError(f"{run_dir} has no checkpoint (is it a genlab run folder?)")
    weights, state = load_checkpoint(path, device)
    raw_cfg = json.loads(state["config"])
    if overrides:
        _apply_runtime_overrides(raw_cfg, overrides)
    cfg = Config.from_dict(raw_cfg)
    dataset = None
    if state.get("data_spec") and "pixels" in state:
        raw = json.loads(state["data_spec"])
        spec = DataSpec(**{**raw, "shape": tuple(raw["shape"])})
        pixels = Pixels(**json.loads(state["pixels"])) if state["pixels"] else None
    else:  # checkpoints from before the pixel transform was stored: learn it from the data
        data = cfg.data if data_dir is None else dataclasses.replace(cfg.data, data_dir=data_dir)
        dataset = load_dataset(data, seed=cfg.train.seed)
        spec, pixels = dataset.spec, pixels_for(dataset, cfg.data)
    torch.manual_seed(cfg.train.seed)
    model = build_model(cfg.model.name, cfg.model.params, spec).to(device)
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
    return SavedModel(model, cfg, pixels, path, applied, dataset)


def _apply_runtime_overrides(raw: dict, overrides: Sequence[str]) -> None:
    from genlab.models.registry import MODELS

    name = raw["model"]["name"]
    allowed = tuple(getattr(MODELS.get(name), "runtime_options", ()))
    for item in overrides:
        key = item.partition("=")[0]
        section, _, field = key.partition(".")
        if section != "model" or field not in allowed:
            options = ", ".join(f"model.{k}" for k in allowed) or "none"
            raise ConfigError(f"{key} cannot be changed for a trained run; runtime options of model {name}: "
                              f"{options}")
        apply_override(raw, item)


__all__ = ["SavedModel", "load_saved_model"]
