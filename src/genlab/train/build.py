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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genlab.config import Config, ModelSpec, apply_override
from genlab.core.checkpoint import check_weights_fit, load_latest
from genlab.core.device import resolve_device
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
    first use (from `data_dir` if given, else the run's configured location).

    Example:
        What `load_run` gives back (its own example trains and loads a run):

        >>> import dataclasses
        >>> [f.name for f in dataclasses.fields(Run) if not f.name.startswith("_")]
        ['model', 'cfg', 'pixels', 'checkpoint', 'ema_weights', 'data_dir']
    """

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


# What a run's state.pt must hold for the run to be rebuilt (a checkpoint lacking one is skipped with a
# warning for an older one that has them).
RUN_STATE_KEYS = ("config", "data_spec", "pixels", "extra", "ema")


def load_run(run_dir: str | Path, device: torch.device | str = "auto", use_ema: bool = True,
             data_dir: str | None = None, overrides: Sequence[str] = ()) -> Run:
    """The model of `run_dir`'s latest checkpoint on `device`, in eval mode: EMA weights where kept
    (and `use_ema`), rank 0's extra state (e.g. an EBM's replay buffer). Seeds the global generator
    with the run's seed before building, as the trainer does. `data_dir` overrides where the
    dataset is looked for when it is needed. A run written by genlab before 0.2.0 is a ConfigError.

    Example:
        Sample from a (2-step) run of the VAE on 2-D points:

        >>> import tempfile
        >>> from genlab import load_config
        >>> cfg = load_config("vae-digits", ["data.name=8gaussians", "data.n_samples=256", "train.steps=2",
        ...                                  "train.device=cpu", "train.progress=false"])
        >>> from genlab import Trainer
        >>> with tempfile.TemporaryDirectory() as run_dir:
        ...     with Trainer(cfg, run_dir) as trainer:
        ...         _ = trainer.fit()
        ...     run = load_run(run_dir, "cpu")
        >>> run.model.sample(3).shape, run.model.training
        (torch.Size([3, 2]), False)
        >>> load_run("/no/such/run")
        Traceback (most recent call last):
          ...
        genlab.core.errors.ConfigError: run folder /no/such/run does not exist
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ConfigError(f"run folder {run_dir} does not exist")
    device = resolve_device(str(device))
    found = load_latest(run_dir / "checkpoints", device, required=RUN_STATE_KEYS)
    if found is None:
        raise ConfigError(f"{run_dir} has no checkpoint (is it a genlab run folder?)")
    path, weights, state = found
    raw_cfg = json.loads(state["config"])
    apply_runtime_overrides(raw_cfg, overrides)
    cfg = Config.from_dict(raw_cfg)
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


def apply_runtime_overrides(raw: dict[str, Any], overrides: Sequence[str]) -> None:
    """Apply `model.KEY=VALUE` overrides to a saved run's raw config: only the config fields its model
    class lists in `runtime_options` (a sampler, a number of sampling steps: fields that change no
    weights); any other key is a ConfigError."""
    if not overrides:
        return
    name = raw["model"]["name"]
    allowed = tuple(getattr(MODELS.get(name), "runtime_options", ()))
    for item in overrides:
        key = str(item).partition("=")[0]
        section, _, option = key.partition(".")
        if section != "model" or option not in allowed:
            options = ", ".join(f"model.{k}" for k in allowed) or "none"
            raise ConfigError(f"{key} cannot be changed for a trained run; runtime options of model "
                              f"{name}: {options}")
        apply_override(raw, item)


__all__ = ["Run", "apply_runtime_overrides", "build", "load_run"]
