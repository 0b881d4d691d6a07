"""`OptimConfig`: one group's optimizer, wrappers, schedule, clipping and EMA, with typed options.

In YAML a group is one flat mapping; the keys besides the common ones are the options of the named
optimizer and schedule, checked against their dataclasses:

    default: {name: adam, lr: 1e-3, betas: [0.5, 0.9], schedule: cosine, warmup_steps: 100,
              wrappers: [{name: lookahead, k: 5, alpha: 0.5}], ema: 0.999, grad_clip: 1.0}
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any

from genlab.core.checks import check_range
from genlab.core.errors import ConfigError
from genlab.core.typed import coerce
from genlab.optim.registry import OPTIMIZERS, SCHEDULES, WRAPPERS

COMMON = ("name", "lr", "schedule", "wrappers", "grad_clip", "ema")


@dataclass
class Choice:
    """A registered entry by name and an instance of its options dataclass (None: the defaults)."""

    name: str
    options: Any = None


def _resolve(registry: Any, name: str, options: Any) -> Any:
    cls = registry.get(name).options
    if options is None:
        return cls()
    if not isinstance(options, cls):
        raise TypeError(f"options of {registry.kind} {name!r} must be {cls.__name__}, "
                        f"got {type(options).__name__}")
    return options


@dataclass
class OptimConfig:
    """One optimizer (plus wrappers, schedule, clipping and EMA) for one parameter group.

    Options of the optimizer and schedule are also readable as attributes (`cfg.betas`).
    """

    name: str = "adam"
    lr: float = 1e-3
    options: Any = None  # the optimizer's options dataclass; None: its defaults
    schedule: str = "constant"
    schedule_options: Any = None  # the schedule's options dataclass; None: its defaults
    wrappers: list[Choice] = field(default_factory=list)  # innermost first
    grad_clip: float | None = None  # max global gradient norm of the group
    ema: float | None = None  # EMA decay of the group's weights (used for sampling/eval)

    def __post_init__(self) -> None:
        self.options = _resolve(OPTIMIZERS, self.name, self.options)
        self.schedule_options = _resolve(SCHEDULES, self.schedule, self.schedule_options)
        self.wrappers = [Choice(w.name, _resolve(WRAPPERS, w.name, w.options)) for w in self.wrappers]
        check_range("lr", self.lr, 0.0, low_open=True)
        if self.grad_clip is not None:
            check_range("grad_clip", self.grad_clip, 0.0, low_open=True)
        if self.ema is not None:
            check_range("ema", self.ema, 0.0, 1.0, low_open=True, high_open=True)

    def __getattr__(self, key: str) -> Any:
        for part in ("options", "schedule_options"):
            owner = self.__dict__.get(part)
            if owner is not None and key in {f.name for f in dataclasses.fields(owner)}:
                return getattr(owner, key)
        raise AttributeError(f"{type(self).__name__} has no attribute or option {key!r}")


# ---------------------------------------------------------------------- flat mapping <-> OptimConfig
def _fields(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def _typed(cls: type, raw: dict[str, Any], prefix: str) -> Any:
    """An options dataclass from raw values; errors name the full key (prefix + option)."""

    hints = typing.get_type_hints(cls)
    try:
        return cls(**{k: coerce(v, hints[k], prefix + k) for k, v in raw.items()})
    except (TypeError, ValueError) as err:
        if isinstance(err, ConfigError):
            raise
        raise ConfigError(f"{prefix}{err}") from None


def _entry(registry: Any, name: Any, key: str) -> Any:
    try:
        return registry.get(str(name))
    except ConfigError as err:
        raise ConfigError(f"{key}: {err}") from None


def inherit(default_raw: dict[str, Any], group_raw: dict[str, Any]) -> dict[str, Any]:
    """A group's raw mapping on top of the default's; a different optimizer (schedule) in the group
    drops the default's options of the other optimizer (schedule) instead of inheriting them."""
    merged = {**default_raw, **group_raw}
    for key, registry, fallback in (("name", OPTIMIZERS, "adam"), ("schedule", SCHEDULES, "constant")):
        parent = str(default_raw.get(key, fallback))
        if key in group_raw and str(group_raw[key]) != parent and parent in registry:
            for opt in set(_fields(registry.get(parent).options)) - set(group_raw):
                merged.pop(opt, None)
    return merged


def replace_choice(group_raw: dict[str, Any], key: str, value: Any) -> None:
    """Set a raw group's `name` or `schedule` (an override), dropping options only the old choice took.

    So `optim.default.schedule=constant` on a cosine preset does not trip over its min_lr_ratio.
    """
    registry, fallback = (OPTIMIZERS, "adam") if key == "name" else (SCHEDULES, "constant")
    old, new = str(group_raw.get(key, fallback)), str(value)
    if old != new and old in registry and new in registry:
        for opt in set(_fields(registry.get(old).options)) - set(_fields(registry.get(new).options)):
            group_raw.pop(opt, None)
    group_raw[key] = value


def optim_from_dict(raw: dict[str, Any], prefix: str = "optim.default.") -> OptimConfig:
    """Parse one group's flat mapping; ConfigError names the offending key and the valid ones."""

    if not isinstance(raw, dict):
        raise ConfigError(f"{prefix.rstrip('.')} must be a mapping of optimizer options, got {raw!r}")
    raw = dict(raw)
    name, schedule = str(raw.pop("name", "adam")), str(raw.pop("schedule", "constant"))
    opt = _entry(OPTIMIZERS, name, prefix + "name")
    sched = _entry(SCHEDULES, schedule, prefix + "schedule")
    hints = typing.get_type_hints(OptimConfig)
    common = {k: coerce(raw.pop(k), hints[k], prefix + k) for k in ("lr", "grad_clip", "ema") if k in raw}
    wrappers_raw = raw.pop("wrappers", None) or []
    opt_keys, sched_keys = _fields(opt.options), _fields(sched.options)
    for key in raw:
        if key not in opt_keys and key not in sched_keys:
            valid = ", ".join([*COMMON, *opt_keys, *sched_keys])
            raise ConfigError(f"{prefix}{key} is not an option of optimizer {name} with schedule "
                              f"{schedule}; valid keys: {valid}")
    options = _typed(opt.options, {k: v for k, v in raw.items() if k in opt_keys}, prefix)
    sched_options = _typed(sched.options, {k: v for k, v in raw.items() if k in sched_keys}, prefix)
    if not isinstance(wrappers_raw, list):
        raise ConfigError(f"{prefix}wrappers must be a list of {{name: ..., option: value}} mappings")
    wrappers = [_wrapper_from_dict(w, f"{prefix}wrappers[{i}].") for i, w in enumerate(wrappers_raw)]
    try:
        return OptimConfig(name, options=options, schedule=schedule, schedule_options=sched_options,
                           wrappers=wrappers, **common)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{prefix}{err}") from None


def _wrapper_from_dict(raw: Any, prefix: str) -> Choice:
    if isinstance(raw, str):
        raw = {"name": raw}
    if not isinstance(raw, dict) or "name" not in raw:
        raise ConfigError(f"{prefix.rstrip('.')} must be a mapping with a name; "
                          f"choose one of: {', '.join(WRAPPERS.names())}")
    raw = dict(raw)
    name = str(raw.pop("name"))
    entry = _entry(WRAPPERS, name, prefix + "name")
    keys = _fields(entry.options)
    for key in raw:
        if key not in keys:
            raise ConfigError(f"{prefix}{key} is not an option of wrapper {name}; "
                              f"valid keys: {', '.join(['name', *keys])}")
    return Choice(name, _typed(entry.options, raw, prefix))


def optim_to_dict(cfg: OptimConfig) -> dict[str, Any]:
    """The flat mapping `optim_from_dict` reads back to an equal OptimConfig."""
    out: dict[str, Any] = {"name": cfg.name, "lr": cfg.lr, **dataclasses.asdict(cfg.options),
                           "schedule": cfg.schedule, **dataclasses.asdict(cfg.schedule_options)}
    out["wrappers"] = [{"name": w.name, **dataclasses.asdict(w.options)} for w in cfg.wrappers]
    out["grad_clip"], out["ema"] = cfg.grad_clip, cfg.ema
    return out


__all__ = ["Choice", "OptimConfig", "inherit", "optim_from_dict", "optim_to_dict", "replace_choice"]
