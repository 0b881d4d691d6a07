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
    """`build(torch_param_groups, lr, options)`; `needs_closure`: `step()` must get a closure (Heun).

    Example:
        >>> OPTIMIZERS.get("heun").needs_closure, OPTIMIZERS.get("adam").options().betas
        (True, (0.9, 0.999))
    """

    options: type
    build: Callable[[list[dict[str, Any]], float, Any], Optimizer]
    needs_closure: bool = False


@dataclass(frozen=True)
class WrapperEntry:
    """`build(base_optimizer, options)` returns an optimizer around `base` (see `OptimizerWrapper`).

    Example:
        >>> import torch
        >>> entry = WRAPPERS.get("lookahead")
        >>> base = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        >>> opt = entry.build(base, entry.options(k=2))
        >>> opt.k, opt.alpha
        (2, 0.5)
    """

    options: type
    build: Callable[[Optimizer, Any], Optimizer]


@dataclass(frozen=True)
class ScheduleEntry:
    """`multiplier(options, total_steps)`: lr factor of the optimizer step, or None for constant.

    Example:
        >>> entry = SCHEDULES.get("warmup")
        >>> f = entry.multiplier(entry.options(warmup_steps=4), 100)
        >>> [f(t) for t in range(5)]
        [0.25, 0.5, 0.75, 1.0, 1.0]
    """

    options: type
    multiplier: Callable[[Any, int], Multiplier | None]


OPTIMIZERS: Registry[OptimizerEntry] = Registry("optimizer")
WRAPPERS: Registry[WrapperEntry] = Registry("optimizer wrapper")
SCHEDULES: Registry[ScheduleEntry] = Registry("schedule")


def register_optimizer(name: str, options: type, *, needs_closure: bool = False) -> Callable:
    """Decorator: register `build(groups, lr, options)` under `name` with its options dataclass.

    Example:
        >>> import dataclasses, torch
        >>> NoOptions = dataclasses.make_dataclass("NoOptions", [])
        >>> @register_optimizer("plain_sgd", NoOptions)
        ... def plain_sgd(groups, lr, options):
        ...     return torch.optim.SGD(groups, lr)
        >>> OPTIMIZERS.get("plain_sgd").build([{"params": [torch.zeros(1)]}], 0.1, NoOptions()).defaults["lr"]
        0.1
        >>> _ = OPTIMIZERS.unregister("plain_sgd")
    """

    def add(build: Callable) -> Callable:
        OPTIMIZERS.register(name)(OptimizerEntry(options, build, needs_closure))
        return build

    return add


def register_wrapper(name: str, options: type) -> Callable:
    """Decorator: register `build(base, options)` under `name` with its options dataclass.

    Example:
        >>> import dataclasses, torch
        >>> NoOptions = dataclasses.make_dataclass("NoOptions", [])
        >>> @register_wrapper("identity", NoOptions)
        ... def identity(base, options):
        ...     return base
        >>> base = torch.optim.SGD([torch.zeros(1)], lr=0.1)
        >>> WRAPPERS.get("identity").build(base, NoOptions()) is base
        True
        >>> _ = WRAPPERS.unregister("identity")
    """

    def add(build: Callable) -> Callable:
        WRAPPERS.register(name)(WrapperEntry(options, build))
        return build

    return add


def register_schedule(name: str, options: type) -> Callable:
    """Decorator: register `multiplier(options, total_steps)` under `name` with its options dataclass.

    Example:
        >>> import dataclasses
        >>> NoOptions = dataclasses.make_dataclass("NoOptions", [])
        >>> @register_schedule("halving", NoOptions)
        ... def halving(options, total_steps):
        ...     return lambda t: 0.5 ** (t // 10)
        >>> SCHEDULES.get("halving").multiplier(NoOptions(), 100)(25)
        0.25
        >>> _ = SCHEDULES.unregister("halving")
    """

    def add(multiplier: Callable) -> Callable:
        SCHEDULES.register(name)(ScheduleEntry(options, multiplier))
        return multiplier

    return add
