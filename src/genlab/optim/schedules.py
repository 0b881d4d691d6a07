"""Learning-rate schedules as multipliers of each param group's initial lr (for `LambdaLR`).

Being multipliers, they keep per-set `lr_scale` ratios: every group follows the same curve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from genlab.core.checks import check_int, check_range
from genlab.optim.registry import Multiplier, register_schedule


def piecewise_linear(knots: dict[int, float]) -> Multiplier:
    """Multiplier interpolated linearly between {step: value} knots, constant after the last.

    As in bert4keras' piecewise-linear schedule (https://kexue.fm/archives/7094): a knot (0, 0) is
    added when 0 is missing, so {1000: 1} is a linear warm-up from 0 over 1000 steps.

    Example:
        >>> f = piecewise_linear({10: 1.0, 20: 0.1})  # warm-up to 1 over 10 steps, then down to 0.1
        >>> [round(f(t), 2) for t in (0, 5, 10, 15, 30)]
        [0.0, 0.5, 1.0, 0.55, 0.1]
    """
    pts = sorted({0: 0.0, **{int(k): float(v) for k, v in knots.items()}}.items())

    def f(t: int) -> float:
        for (t0, v0), (t1, v1) in zip(pts, pts[1:]):
            if t < t1:
                return v0 + (v1 - v0) * (t - t0) / (t1 - t0)
        return pts[-1][1]

    return f


def linear_warmup(warmup_steps: int) -> Multiplier:
    """(t + 1) / warmup_steps up to 1: the first step already uses a non-zero rate.

    Example:
        >>> [linear_warmup(4)(t) for t in range(5)]
        [0.25, 0.5, 0.75, 1.0, 1.0]
    """
    return lambda t: min(1.0, (t + 1) / warmup_steps)


@dataclass
class ConstantOptions:
    """No options: the configured lr throughout.

    Example:
        >>> constant(ConstantOptions(), total_steps=100) is None  # None: LambdaLR is not needed
        True
    """


@dataclass
class WarmupOptions:
    """Linear warm-up over warmup_steps, then constant (0: constant from the start).

    Example:
        >>> warmup(WarmupOptions(warmup_steps=4), 100)(1)
        0.5
        >>> WarmupOptions(warmup_steps=-1)
        Traceback (most recent call last):
            ...
        genlab.core.errors.ConfigError: warmup_steps must be an integer >= 0, got -1
    """

    warmup_steps: int = 0

    def __post_init__(self) -> None:
        check_int("warmup_steps", self.warmup_steps, 0)


@dataclass
class CosineOptions:
    """Linear warm-up, then half a cosine from 1 down to min_lr_ratio at the last step.

    Loshchilov & Hutter, SGDR, arXiv:1608.03983 (one cycle, no restarts).

    Example:
        >>> f = cosine(CosineOptions(min_lr_ratio=0.1), total_steps=10)
        >>> f(0), round(f(5), 4), f(10)  # 1, halfway 0.55, the floor 0.1
        (1.0, 0.55, 0.1)
    """

    warmup_steps: int = 0
    min_lr_ratio: float = 0.0

    def __post_init__(self) -> None:
        check_int("warmup_steps", self.warmup_steps, 0)
        check_range("min_lr_ratio", self.min_lr_ratio, 0.0, 1.0)


@dataclass
class PiecewiseOptions:
    """{step: multiplier} knots, linear in between (see `piecewise_linear`).

    Example:
        >>> piecewise(PiecewiseOptions({100: 1.0}), total_steps=1000)(50)
        0.5
    """

    knots: dict[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.knots:
            raise ValueError("knots must be a non-empty {step: multiplier} mapping, e.g. {1000: 1, 5000: .1}")
        for step, value in self.knots.items():
            check_int("knots step", step, 0)
            check_range("knots value", value, 0.0)


@register_schedule("constant", ConstantOptions)
def constant(o: ConstantOptions, total_steps: int) -> Multiplier | None:
    """No multiplier: the configured lr at every step.

    Example:
        >>> constant(ConstantOptions(), total_steps=100) is None
        True
    """
    return None


@register_schedule("warmup", WarmupOptions)
def warmup(o: WarmupOptions, total_steps: int) -> Multiplier | None:
    """The linear warm-up multiplier, or None without warm-up steps.

    Example:
        >>> f = warmup(WarmupOptions(warmup_steps=2), total_steps=100)
        >>> [f(t) for t in range(3)], warmup(WarmupOptions(), 100)
        ([0.5, 1.0, 1.0], None)
    """
    return linear_warmup(o.warmup_steps) if o.warmup_steps > 0 else None


@register_schedule("cosine", CosineOptions)
def cosine(o: CosineOptions, total_steps: int) -> Multiplier | None:
    """Linear warm-up, then half a cosine down to `min_lr_ratio` at `total_steps`.

    Example:
        >>> f = cosine(CosineOptions(warmup_steps=2), total_steps=6)
        >>> [round(f(t), 3) for t in range(7)]
        [0.5, 1.0, 1.0, 0.854, 0.5, 0.146, 0.0]
    """
    warm, floor = o.warmup_steps, o.min_lr_ratio

    def f(t: int) -> float:
        if t < warm:
            return (t + 1) / warm
        progress = min(1.0, (t - warm) / max(1, total_steps - warm))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

    return f


@register_schedule("piecewise", PiecewiseOptions)
def piecewise(o: PiecewiseOptions, total_steps: int) -> Multiplier | None:
    """The piecewise-linear multiplier of the knots (`piecewise_linear`).

    Example:
        >>> f = piecewise(PiecewiseOptions({10: 1.0, 20: 0.1}), total_steps=100)
        >>> f(5), f(50)
        (0.5, 0.1)
    """
    return piecewise_linear(o.knots)
