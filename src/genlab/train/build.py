"""Building a run's model (with the finished runs it builds on) and loading a run folder back.

Every model the trainer trains or a run folder reloads is built by `build`. A model class that
names upstream runs (`Model.upstream_runs`: the VQ-VAE prior's frozen first stage, a reflow's
teacher flow) receives them here already loaded, as `__init__(config, spec, upstream={name:
Model})`, the way pythae's `PixelCNNSampler(model)` receives its VQ-VAE: no model family loads a
run itself, so `genlab.models` imports nothing above it.

`load_run` rebuilds the model of a run folder's latest checkpoint from the checkpoint alone (config,
data spec and pixel transform are stored in it) through `build`, so upstream runs load recursively;
the dataset is loaded only when asked for, so a run can be sampled on a machine without its data.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from genlab.config import Config, ModelSpec
from genlab.core.checkpoint import check_weights_fit, latest_checkpoint, load_checkpoint
from genlab.core.errors import ConfigError, DataError, GenlabError
from genlab.core.protocol import DataSpec, Model
from genlab.data import Dataset, Pixels, load_dataset
from genlab.models import MODELS
from genlab.optim import flat_params


def build(model: ModelSpec, spec: DataSpec) -> Model:
    """`model`'s class built for data `spec`, on the CPU, with its upstream runs loaded (EMA weights
    where kept) and passed as `upstream=` when it names any. Upstream runs are loaded without
    touching the caller's random stream, so the new model's initial weights depend only on the seed
    the caller set."""
    cls = MODELS.get(model.name)
    runs = cls.upstream_runs(model.params)
    if not runs:
        return cls(model.params, spec)
    upstream = {}
    with torch.random.fork_rng(devices=[]):  # load_run reseeds the global generator
        for name, folder in runs.items():
            try:
                upstream[name] = load_run(folder, "cpu").model
            except (ConfigError, DataError) as err:
                raise type(err)(f"model {model.name} builds on run {folder} ({name}): {err}") from None
    return cls(model.params, spec, upstream=upstream)


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


def load_run(run_dir: str | Path, device: torch.device | str = "auto", use_ema: bool = True,
             data_dir: str | None = None) -> Run:
    """The model of `run_dir`'s latest checkpoint on `device`, in eval mode: EMA weights where kept
    (and `use_ema`), rank 0's extra state (e.g. an EBM's replay buffer). Seeds the global generator
    with the run's seed before building, as the trainer does. `data_dir` overrides where the
    dataset is looked for when it is needed. A run written by genlab before 0.2.0 is a ConfigError."""
    from genlab.train.trainer import resolve_device  # the trainer imports this module

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ConfigError(f"run folder {run_dir} does not exist")
    path = latest_checkpoint(run_dir / "checkpoints")
    if path is None:
        raise ConfigError(f"{run_dir} has no checkpoint (is it a genlab run folder?)")
    device = resolve_device(str(device))
    weights, state = load_checkpoint(path, device)
    cfg = Config.from_dict(json.loads(state["config"]))
    raw = json.loads(state["data_spec"])
    spec = DataSpec(**{**raw, "shape": tuple(raw["shape"])})
    pixels = Pixels(**json.loads(state["pixels"])) if state["pixels"] else None
    torch.manual_seed(cfg.train.seed)
    model = build(cfg.model, spec).to(device)
    check_weights_fit(model.state_dict(), weights, path)
    model.load_state_dict(weights)
    model.load_extra_state(state["extra"][0])  # rank 0's, e.g. an EBM's replay buffer
    applied = use_ema and bool(state["ema"])
    if applied:
        groups = {g: flat_params(v) for g, v in model.param_groups().items()}
        with torch.no_grad():
            for g, ema in state["ema"].items():
                for p, s in zip(groups[g], ema["shadow"]):
                    p.copy_(s)
    model.eval()
    return Run(model, cfg, pixels, path, applied, data_dir)


__all__ = ["Run", "build", "load_run"]
