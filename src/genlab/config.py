"""Typed run configuration: dataclasses loadable from YAML, overridable with `key=value`.

A run config has five sections. `model` names a registered model class and carries that class's own
`Config` dataclass, so every model option is typed and checked too:

    model: {name: vae, latent_dim: 16}
    data:  {name: digits, batch_size: 128}
    optim: {default: {lr: 1e-3}, critic: {lr: 4e-4}}   # one optimizer per parameter group
                                                       # (see genlab.optim.config for its keys)
    train: {steps: 2000, seed: 0}
    eval:  {importance_samples: 1000}
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from genlab.core.checks import check_int, check_range
from genlab.core.device import check_device
from genlab.core.errors import ConfigError
from genlab.core.strict_yaml import load_yaml_text
from genlab.core.typed import build_dataclass, check_keys, coerce, plain
from genlab.models import MODELS  # a family is imported when its name is first looked up
from genlab.optim.config import OptimConfig, inherit, optim_from_dict, optim_to_dict, replace_choice
from genlab.presets import load_preset_dict


@dataclass
class DataConfig:
    """Which dataset and how its values are turned into model inputs (see `genlab.data.pixels`)."""

    name: str = "digits"
    data_dir: str | None = None  # looked up before $GENLAB_DATA and the Debian location
    batch_size: int = 128
    pixels: Literal["dequantize", "binarize", "scale"] = "dequantize"  # images (genlab.data.pixels)
    range: Literal["unit", "symmetric"] = "unit"  # images: unit -> [0, 1], symmetric -> [-1, 1]
    logit_alpha: float | None = None  # images: model logit(alpha + (1 - 2 alpha) y) (RealNVP)
    n_samples: int = 20000  # 2-D toys: size of the fixed training set
    test_fraction: float = 0.2  # datasets without an official split (digits, toys, folders)
    image_size: int | None = None  # image-folder: resize to this square size
    grayscale: bool = False  # image-folder: convert to one channel

    def __post_init__(self) -> None:
        check_int("data.batch_size", self.batch_size, 1)
        check_int("data.n_samples", self.n_samples, 1)
        check_range("data.test_fraction", self.test_fraction, 0.0, 1.0, high_open=True)
        if self.image_size is not None:
            check_int("data.image_size", self.image_size, 1)
        if self.logit_alpha is not None:
            check_range("data.logit_alpha", self.logit_alpha, 0.0, 0.5, low_open=True, high_open=True)


# train.seed seeds torch generators, which take 64-bit seeds; derived per-rank seeds add a little.
MAX_SEED = 2**63


@dataclass
class TrainConfig:
    steps: int = 1000
    seed: int = 0  # 0 <= seed < 2**63
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"  # mixed precision (CUDA only)
    grad_accum: int = 1  # micro-batches per optimizer step (batch is split)
    log_every: int = 50
    sample_every: int = 0  # 0: only at the end
    eval_every: int = 0  # 0: never during training
    ckpt_every: int = 500
    keep_checkpoints: int = 2
    n_samples: int = 64  # images in each sample grid
    # Where the run is logged besides metrics.jsonl (`jsonl`, always on): `tensorboard`, `mlflow`,
    # `wandb` (genlab.train.loggers; the optional extra `pip install "genlab[track]"`). Rank 0 only.
    loggers: list[Literal["jsonl", "tensorboard", "mlflow", "wandb"]] = field(
        default_factory=lambda: ["jsonl"])
    # MLflow tracking URI; unset: $MLFLOW_TRACKING_URI, else the file store RUN/mlruns
    mlflow_uri: str | None = None
    mlflow_experiment: str = "genlab"
    wandb_project: str = "genlab"
    wandb_mode: Literal["online", "offline"] | None = None  # unset: $WANDB_MODE, else online
    progress: bool = True
    replan_schedule: bool = False  # on resume with a new train.steps: stretch lr schedules to it
    # torch.compile each top-level submodule of the model (weights and checkpoints unchanged); not
    # for models that differentiate twice (GAN gradient penalties, R1, gradient normalization)
    compile: bool = False
    # channels_last memory format for 4-D weights and image batches (NHWC): sometimes faster for
    # conv nets, same results to float rounding; off by default (benchmarks/peers.py-style check:
    # benchmarks/channels_last.py)
    channels_last: bool = False

    def __post_init__(self) -> None:
        for name, low in (("steps", 1), ("grad_accum", 1), ("log_every", 1), ("sample_every", 0),
                          ("eval_every", 0), ("ckpt_every", 0), ("keep_checkpoints", 1), ("n_samples", 1)):
            check_int(f"train.{name}", getattr(self, name), low)
        check_int("train.seed", self.seed, 0)
        if self.seed >= MAX_SEED:
            raise ConfigError(f"train.seed must be an integer in [0, 2**63), got {self.seed}")
        check_device("train.device", self.device)
        self.loggers = list(dict.fromkeys(["jsonl", *self.loggers]))  # jsonl always, each name once
        for name in ("mlflow_experiment", "wandb_project"):
            if not getattr(self, name).strip():
                raise ConfigError(f"train.{name} must be a non-empty name")


@dataclass
class EvalConfig:
    n_test: int = 1000  # test examples used for likelihood metrics (0: all)
    importance_samples: int = 1000  # K of the importance-sampled log-likelihood
    batch_size: int = 100
    seed: int = 1234
    probe_n_train: int = 10000  # training examples fitting an Encoder's linear probe (0: all)
    probe_n_test: int = 0  # test examples scoring it (0: all)

    def __post_init__(self) -> None:
        for name, low in (("n_test", 0), ("importance_samples", 1), ("batch_size", 1), ("probe_n_train", 0),
                          ("probe_n_test", 0)):
            check_int(f"eval.{name}", getattr(self, name), low)


@dataclass
class ModelSpec:
    name: str
    params: Any  # the model class's own Config dataclass instance


@dataclass
class Config:
    """A whole run: model (its class's own typed config), data, one optimizer per group, training, eval.

    Example:
        Built from plain sections (what a YAML file holds); omitted options take their defaults:

        >>> cfg = Config.from_dict({"model": {"name": "vae", "latent_dim": 2}, "data": {"name": "8gaussians"},
        ...                         "train": {"steps": 100}})
        >>> cfg.model.params.latent_dim, cfg.data.batch_size, cfg.optim_for("model").name
        (2, 128, 'adam')
        >>> Config.from_dict(cfg.to_dict()) == cfg  # round-trips through plain dicts (and YAML)
        True
    """

    model: ModelSpec
    data: DataConfig = field(default_factory=DataConfig)
    optim: dict[str, OptimConfig] = field(default_factory=lambda: {"default": OptimConfig()})
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def __post_init__(self) -> None:
        # Rules across sections (each section checks its own ranges).
        if self.data.batch_size % self.train.grad_accum:
            raise ConfigError(f"train.grad_accum={self.train.grad_accum} must divide data.batch_size="
                              f"{self.data.batch_size} (the batch is split into that many micro-batches)")

    def optim_for(self, group: str) -> OptimConfig:
        return self.optim.get(group, self.optim["default"])

    # ------------------------------------------------------------------ (de)serialisation
    @classmethod
    def from_dict(cls, raw: dict[str, Any], model_cls: type | None = None) -> Config:
        """A config from plain sections. `model_cls`: the class `model.name` stands for, when it is not
        looked up in `MODELS` (a model outside the library, handed to `Trainer(model=...)` built)."""
        raw = dict(_section(raw, "config"))
        check_keys(raw, {"model", "data", "optim", "train", "eval"}, "")
        model_raw = dict(_section(raw.get("model"), "model"))
        if "name" not in model_raw:
            raise ConfigError(f"config needs model.name; choose one of: {', '.join(MODELS.names())}")
        name = model_raw.pop("name")
        if model_cls is None:
            model_cls = MODELS.get(str(name))
        params = build_dataclass(model_cls.Config, model_raw, "model.")

        optim_raw = dict(_section(raw.get("optim"), "optim"))
        default_raw = dict(_section(optim_raw.pop("default", None), "optim.default"))
        optim = {"default": optim_from_dict(default_raw, "optim.default.")}
        for group, group_raw in optim_raw.items():
            group_raw = _section(group_raw, f"optim.{group}")
            optim[group] = optim_from_dict(inherit(default_raw, group_raw), f"optim.{group}.")
        return cls(
            model=ModelSpec(str(name), params),
            data=build_dataclass(DataConfig, raw.get("data") or {}, "data."),
            optim=optim,
            train=build_dataclass(TrainConfig, _legacy_train(raw.get("train") or {}), "train."),
            eval=build_dataclass(EvalConfig, raw.get("eval") or {}, "eval."),
        )

    def to_dict(self) -> dict[str, Any]:
        model = {"name": self.model.name, **plain(dataclasses.asdict(self.model.params))}
        out: dict[str, Any] = {"model": model}
        for key in ("data", "train", "eval"):
            out[key] = plain(dataclasses.asdict(getattr(self, key)))
        out["optim"] = {g: plain(optim_to_dict(o)) for g, o in self.optim.items()}
        return out

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


def _section(value: Any, name: str) -> dict[str, Any]:
    """A config section as a mapping ({} when absent); a one-line ConfigError for anything else."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{name} must be a mapping of options (key: value), got {value!r:.80}")
    return value


def _legacy_train(raw: Any) -> Any:
    """Read `train.tensorboard: true` (genlab <= 0.2.0, still in older run folders' configs) as
    `tensorboard` in train.loggers."""
    if not isinstance(raw, dict) or "tensorboard" not in raw:
        return raw
    raw = dict(raw)
    if coerce(raw.pop("tensorboard"), bool, "train.tensorboard"):
        loggers = coerce(raw.get("loggers", ["jsonl"]), list[str], "train.loggers")
        raw["loggers"] = [*loggers, "tensorboard"]
    return raw


def load_config(source: str | Path, overrides: Sequence[str] = ()) -> Config:
    """Load a preset name or a YAML path, then apply `a.b.c=value` overrides.

    Example:
        The `vae-digits` preset, shortened and with a smaller latent space:

        >>> cfg = load_config("vae-digits", ["train.steps=500", "model.latent_dim=8"])
        >>> cfg.model.name, cfg.model.params.latent_dim, cfg.train.steps, cfg.data.name
        ('vae', 8, 500, 'digits')
        >>> load_config("vae-digits", ["train.steps=0"])
        Traceback (most recent call last):
          ...
        genlab.core.errors.ConfigError: train.steps must be an integer >= 1, got 0
    """
    if isinstance(overrides, str) or not all(isinstance(item, str) for item in overrides):
        raise ConfigError(f"overrides must be a list of 'key=value' strings, got {overrides!r:.80}")
    raw = load_preset_dict(str(source))
    for item in overrides:
        apply_override(raw, item)
    return Config.from_dict(raw)


def apply_override(raw: dict[str, Any], item: str) -> None:
    """Set `a.b.c=value` in a nested raw dict; the value is parsed as YAML, checked later."""
    key, sep, value = item.partition("=")
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"bad override {item!r}: expected key=value, e.g. train.steps=500")
    *parents, leaf = key.split(".")
    node = raw
    for part in parents:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"bad override {item!r}: {part!r} is not a section")
        node = child
    try:
        parsed = load_yaml_text(value) if value.strip() else None
    except yaml.YAMLError as err:
        if "nested more than" in str(err):
            raise ConfigError(f"bad override {item!r:.80}: {err}") from None
        parsed = value
    if len(parents) == 2 and parents[0] == "optim" and leaf in ("name", "schedule"):
        replace_choice(node, leaf, parsed)  # a new optimizer/schedule drops the old one's options
    else:
        node[leaf] = parsed
