"""Building a run's model (with the finished runs it builds on) and loading a run folder back.

Every model the trainer trains or a run folder reloads is built by `build`. A model class that
names upstream runs (`Model.upstream_runs`: the VQ-VAE prior's frozen first stage, a reflow's
teacher flow) receives them here already loaded, as `__init__(config, spec, upstream={name:
Model})`, the way pythae's `PixelCNNSampler(model)` receives its VQ-VAE: no model family loads a
run itself, so `genlab.models` imports nothing above it.

`load_run` rebuilds the model of a run folder's latest checkpoint from the checkpoint alone (config,
data spec and pixel transform are stored in it) through `build`, so upstream runs load recursively;
the dataset is loaded only when asked for, so a run can be sampled on a machine without its data.
It also loads the folders `genlab export` writes (`genlab.export`; recognised by `EXPORT_META`):
their weights, config and data spec are plain files, and their upstream runs are exported inside
them (`upstream/NAME/`), which is where they are loaded from, never from the original run's path.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from safetensors import SafetensorError
from safetensors.torch import load_file

from genlab.config import Config, ModelSpec, apply_override
from genlab.core.checkpoint import FIRST_LOADABLE, check_weights_fit, load_latest, release
from genlab.core.device import resolve_device
from genlab.core.errors import ConfigError, DataError, GenlabError
from genlab.core.protocol import DataSpec, Model
from genlab.data import Dataset, Pixels, load_dataset
from genlab.models import MODELS
from genlab.optim import flat_params


def build(model: ModelSpec, spec: DataSpec, upstream_dirs: Mapping[str, str | Path] | None = None
          ) -> Model:
    """`model`'s class built for data `spec`, on the CPU, with its upstream runs loaded (EMA weights
    where kept) and passed as `upstream=` when it names any. `upstream_dirs` replaces the folders
    the config names (an export's `upstream/NAME/`). Upstream runs are loaded without touching the
    caller's random stream, so the new model's initial weights depend only on the seed the caller
    set."""
    cls = MODELS.get(model.name)
    runs = cls.upstream_runs(model.params)
    if not runs:
        return cls(model.params, spec)
    if upstream_dirs is not None:
        runs = {name: upstream_dirs[name] for name in runs}
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
    if is_export(run_dir):
        return _load_export(run_dir, device, use_ema, data_dir, overrides)
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


# An exported model folder (written by `genlab.export`): what `load_run` reads from it.
EXPORT_META = "genlab.json"  # format, versions, family, step, weights kind, upstream folders
EXPORT_FORMAT, EXPORT_VERSION = "genlab-export", 1  # EXPORT_VERSION: the newest layout this code reads
EXPORT_WEIGHTS, EXPORT_CONFIG, EXPORT_SPEC = "model.safetensors", "config.yaml", "data_spec.json"
EXPORT_EXTRA, EXPORT_UPSTREAM = "extra_state.pt", "upstream"


def is_export(folder: str | Path) -> bool:
    """Whether `folder` is a model folder written by `genlab export` (not a training run folder)."""
    folder = Path(folder)
    return (folder / EXPORT_META).is_file() and not (folder / "checkpoints").exists()


def read_export_meta(folder: Path) -> dict[str, Any]:
    """The export's `genlab.json`, checked: a ConfigError line if it is not one this genlab reads."""
    try:
        meta = json.loads((folder / EXPORT_META).read_text())
    except (OSError, ValueError) as err:
        raise ConfigError(f"{folder / EXPORT_META} cannot be read: {str(err).splitlines()[0]}") from None
    if not isinstance(meta, dict) or meta.get("format") != EXPORT_FORMAT:
        raise ConfigError(f"{folder / EXPORT_META} does not describe a genlab export")
    version, trained = meta.get("format_version"), str(meta.get("trained_with_genlab", ""))
    if not isinstance(version, int) or version > EXPORT_VERSION:
        raise ConfigError(f"{folder}: export format {version} is newer than this genlab reads "
                          f"({EXPORT_VERSION}); upgrade genlab")
    if release(trained) < release(FIRST_LOADABLE):
        raise ConfigError(f"{folder}: model trained by genlab {trained or '?'} (before {FIRST_LOADABLE}'s "
                          "config layout); retrain it")
    return meta


def _load_export(folder: Path, device: torch.device, use_ema: bool, data_dir: str | None,
                 overrides: Sequence[str]) -> Run:
    """`load_run` for an export: the same model, seeding and weights as `load_run` of the run it
    came from, read from the export's plain files; upstream runs from its `upstream/NAME/`."""
    meta = read_export_meta(folder)
    if not use_ema and meta.get("ema_weights"):
        raise ConfigError(f"{folder} holds only the EMA weights (an export keeps the weights sampling "
                          "uses); the raw weights are in the run folder it was exported from")
    try:
        raw_cfg = yaml.safe_load((folder / EXPORT_CONFIG).read_text())
        data = json.loads((folder / EXPORT_SPEC).read_text())
        weights = load_file(folder / EXPORT_WEIGHTS, device=str(device))
        extra = (torch.load(folder / EXPORT_EXTRA, map_location=device, weights_only=True)
                 if (folder / EXPORT_EXTRA).is_file() else {})
    except (OSError, ValueError, yaml.YAMLError, SafetensorError, RuntimeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(f"export {folder} is incomplete or damaged: {first}") from None
    if not isinstance(raw_cfg, dict):
        raise DataError(f"export {folder}: {EXPORT_CONFIG} holds no config")
    apply_runtime_overrides(raw_cfg, overrides)
    cfg = Config.from_dict(raw_cfg)
    spec = DataSpec(**{**data["spec"], "shape": tuple(data["spec"]["shape"])})
    pixels = Pixels(**data["pixels"]) if data.get("pixels") else None
    names = MODELS.get(cfg.model.name).upstream_runs(cfg.model.params)
    dirs = {name: folder / EXPORT_UPSTREAM / name for name in names}
    for name, where in dirs.items():
        if not is_export(where):
            raise DataError(f"export {folder} lacks its upstream run {name} ({where} is missing)")
    torch.manual_seed(cfg.train.seed)  # as load_run: the same initial weights, the same stream after
    model = build(cfg.model, spec, dirs).to(device)
    path = folder / EXPORT_WEIGHTS
    check_weights_fit(model.state_dict(), weights, path)
    model.load_state_dict(weights)  # EMA weights already in place where the run kept them
    model.load_extra_state(extra)
    model.eval()
    return Run(model, cfg, pixels, path, bool(meta.get("ema_weights")), data_dir)


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


__all__ = ["EXPORT_META", "Run", "apply_runtime_overrides", "build", "is_export", "load_run",
           "read_export_meta"]
