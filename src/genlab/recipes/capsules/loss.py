"""Spread loss for class-capsule activations (Hinton, Sabour & Frosst 2018, section 3.1, eq. 3)."""

from __future__ import annotations

from torch import Tensor

from genlab.core.checks import check_int, check_range


def spread_loss(a: Tensor, y: Tensor, margin: float) -> Tensor:
    """mean over the batch of sum_{i != t} max(0, margin - (a_t - a_i))^2, t the target class.

    Pushes the target activation above every other by at least `margin`; a wrong class already that far
    below costs nothing.
    """
    if a.ndim != 2 or y.shape != a.shape[:1]:
        raise ValueError(f"activations must be (N, classes) and labels (N,), got {tuple(a.shape)}, "
                         f"{tuple(y.shape)}")
    target = a.gather(1, y.unsqueeze(1))
    gap = (margin - (target - a)).clamp_min(0).square()
    return (gap.sum(1) - gap.gather(1, y.unsqueeze(1)).squeeze(1)).mean()


def spread_margin(step: int, steps: int, start: float = 0.2, end: float = 0.9) -> float:
    """The paper's margin schedule: linear from `start` to `end` over `steps` steps, then constant."""
    check_int("steps", steps, 1)
    check_range("margin start", start, 0.0)
    check_range("margin end", end, start)
    return start + (end - start) * min(max(step, 0), steps) / steps
