"""Name -> (typed options dataclass, builder) registries for optimizers, wrappers and LR schedules.

A config names an entry and lists its options; the options are checked against the entry's own
dataclass, so `momentum` with adam is an error instead of being silently ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch.optim import Optimizer

from genlab.core.registry import Registry

Multiplier = Callable[[int], float]


@dataclass(frozen=True)
class OptimizerEntry:
    """`build(torch_param_groups, lr, options)`; `needs_closure`: `step()` must get a closure (Heun)."""

    options: type
    build: Callable[[list[dict[str, Any]], float, Any], Optimizer]
    needs_closure: bool = False


@dataclass(frozen=True)
class WrapperEntry:
    """`build(base_optimizer, options)` returns an optimizer around `base` (see `OptimizerWrapper`)."""

    options: type
    build: Callable[[Optimizer, Any], Optimizer]


@dataclass(frozen=True)
class ScheduleEntry:
    """`multiplier(options, total_steps)`: lr factor of the optimizer step, or None for constant."""

    options: type
    multiplier: Callable[[Any, int], Multiplier | None]


OPTIMIZERS: Registry[OptimizerEntry] = Registry("optimizer")
WRAPPERS: Registry[WrapperEntry] = Registry("optimizer wrapper")
SCHEDULES: Registry[ScheduleEntry] = Registry("schedule")


def register_optimizer(name: str, options: type, *, needs_closure: bool = False) -> Callable:
    """Decorator: register `build(groups, lr, options)` under `name` with its options dataclass."""

    def add(build: Callable) -> Callable:
        OPTIMIZERS.register(name)(OptimizerEntry(options, build, needs_closure))
        return build

    return add


def register_wrapper(name: str, options: type) -> Callable:
    """Decorator: register `build(base, options)` under `name` with its options dataclass."""

    def add(build: Callable) -> Callable:
        WRAPPERS.register(name)(WrapperEntry(options, build))
        return build

    return add


def register_schedule(name: str, options: type) -> Callable:
    """Decorator: register `multiplier(options, total_steps)` under `name` with its options dataclass."""

    def add(multiplier: Callable) -> Callable:
        SCHEDULES.register(name)(ScheduleEntry(options, multiplier))
        return multiplier

    return add
