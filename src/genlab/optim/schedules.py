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
    """
    pts = sorted({0: 0.0, **{int(k): float(v) for k, v in knots.items()}}.items())

    def f(t: int) -> float:
        for (t0, v0), (t1, v1) in zip(pts, pts[1:]):
            if t < t1:
                return v0 + (v1 - v0) * (t - t0) / (t1 - t0)
        return pts[-1][1]

    return f


def linear_warmup(warmup_steps: int) -> Multiplier:
    """(t + 1) / warmup_steps up to 1: the first step already uses a non-zero rate."""
    return lambda t: min(1.0, (t + 1) / warmup_steps)


@dataclass
class ConstantOptions:
    """No options: the configured lr throughout."""


@dataclass
class WarmupOptions:
    """Linear warm-up over warmup_steps, then constant (0: constant from the start)."""

    warmup_steps: int = 0

    def __post_init__(self) -> None:
        check_int("warmup_steps", self.warmup_steps, 0)


@dataclass
class CosineOptions:
    """Linear warm-up, then half a cosine from 1 down to min_lr_ratio at the last step.

    Loshchilov & Hutter, SGDR, arXiv:1608.03983 (one cycle, no restarts).
    """

    warmup_steps: int = 0
    min_lr_ratio: float = 0.0

    def __post_init__(self) -> None:
        check_int("warmup_steps", self.warmup_steps, 0)
        check_range("min_lr_ratio", self.min_lr_ratio, 0.0, 1.0)


@dataclass
class PiecewiseOptions:
    """{step: multiplier} knots, linear in between (see `piecewise_linear`)."""

    knots: dict[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.knots:
            raise ValueError("knots must be a non-empty {step: multiplier} mapping, e.g. {1000: 1, 5000: .1}")
        for step, value in self.knots.items():
            check_int("knots step", step, 0)
            check_range("knots value", value, 0.0)


@register_schedule("constant", ConstantOptions)
def constant(o: ConstantOptions, total_steps: int) -> Multiplier | None:
    return None


@register_schedule("warmup", WarmupOptions)
def warmup(o: WarmupOptions, total_steps: int) -> Multiplier | None:
    return linear_warmup(o.warmup_steps) if o.warmup_steps > 0 else None


@register_schedule("cosine", CosineOptions)
def cosine(o: CosineOptions, total_steps: int) -> Multiplier | None:
    warm, floor = o.warmup_steps, o.min_lr_ratio

    def f(t: int) -> float:
        if t < warm:
            return (t + 1) / warm
        progress = min(1.0, (t - warm) / max(1, total_steps - warm))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

    return f


@register_schedule("piecewise", PiecewiseOptions)
def piecewise(o: PiecewiseOptions, total_steps: int) -> Multiplier | None:
    return piecewise_linear(o.knots)
