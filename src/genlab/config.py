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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from genlab.core.checks import check_int, check_range
from genlab.core.errors import ConfigError
from genlab.core.typed import build_dataclass, check_keys, plain
from genlab.models import MODELS  # importing the families registers them
from genlab.optim.config import OptimConfig, inherit, optim_from_dict, optim_to_dict, replace_choice
from genlab.presets import load_preset_dict


@dataclass
class DataConfig:
    """Which dataset and how its values are turned into model inputs (see `genlab.data.pixels`)."""

    name: str = "digits"
    data_dir: str | None = None  # looked up before $GENLAB_DATA and the Debian location
    batch_size: int = 128
    pixels: str = "dequantize"  # images: dequantize | binarize | scale
    range: str = "unit"  # images: unit -> [0, 1], symmetric -> [-1, 1]
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


@dataclass
class TrainConfig:
    steps: int = 1000
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: str = "fp32"  # fp32 | bf16 | fp16 (mixed precision; CUDA only)
    grad_accum: int = 1  # micro-batches per optimizer step (batch is split)
    log_every: int = 50
    sample_every: int = 0  # 0: only at the end
    eval_every: int = 0  # 0: never during training
    ckpt_every: int = 500
    keep_checkpoints: int = 2
    n_samples: int = 64  # images in each sample grid
    tensorboard: bool = False
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


@dataclass
class EvalConfig:
    n_test: int = 1000  # test examples used for likelihood metrics (0: all)
    importance_samples: int = 1000  # K of the importance-sampled log-likelihood
    batch_size: int = 100
    seed: int = 1234
    probe_n_train: int = 10000  # training examples fitting an Encoder's linear probe (0: all)

    def __post_init__(self) -> None:
        for name, low in (("n_test", 0), ("importance_samples", 1), ("batch_size", 1), ("probe_n_train", 0)):
            check_int(f"eval.{name}", getattr(self, name), low)


@dataclass
class ModelSpec:
    name: str
    params: Any  # the model class's own Config dataclass instance


@dataclass
class Config:
    model: ModelSpec
    data: DataConfig = field(default_factory=DataConfig)
    optim: dict[str, OptimConfig] = field(default_factory=lambda: {"default": OptimConfig()})
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def optim_for(self, group: str) -> OptimConfig:
        return self.optim.get(group, self.optim["default"])

    # ------------------------------------------------------------------ (de)serialisation
    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Config:
        raw = dict(raw)
        check_keys(raw, {"model", "data", "optim", "train", "eval"}, "")
        model_raw = dict(raw.get("model") or {})
        if "name" not in model_raw:
            raise ConfigError(f"config needs model.name; choose one of: {', '.join(MODELS.names())}")
        name = model_raw.pop("name")
        model_cls = MODELS.get(str(name))
        params = build_dataclass(model_cls.Config, model_raw, "model.")

        optim_raw = dict(raw.get("optim") or {})
        default_raw = dict(optim_raw.pop("default", None) or {})
        optim = {"default": optim_from_dict(default_raw, "optim.default.")}
        for group, group_raw in optim_raw.items():
            if not isinstance(group_raw, dict):
                raise ConfigError(f"optim.{group} must be a mapping of optimizer options")
            optim[group] = optim_from_dict(inherit(default_raw, group_raw), f"optim.{group}.")
        return cls(
            model=ModelSpec(str(name), params),
            data=build_dataclass(DataConfig, raw.get("data") or {}, "data."),
            optim=optim,
            train=build_dataclass(TrainConfig, raw.get("train") or {}, "train."),
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


def load_config(source: str | Path, overrides: list[str] = ()) -> Config:
    """Load a preset name or a YAML path, then apply `a.b.c=value` overrides."""
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
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError:
        parsed = value
    if len(parents) == 2 and parents[0] == "optim" and leaf in ("name", "schedule"):
        replace_choice(node, leaf, parsed)  # a new optimizer/schedule drops the old one's options
    else:
        node[leaf] = parsed
