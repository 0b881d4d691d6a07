"""Input check shared by the noise-argmax quadrature, sampler and relaxations."""

from __future__ import annotations

import torch
from torch import Tensor


def check_logits(logits: Tensor) -> None:
    """Raise unless `logits` is a finite floating tensor with a non-empty last (category) axis.

    Example:
        >>> check_logits(torch.zeros(2, 3))  # finite floats with a category axis: passes
        >>> check_logits(torch.tensor([0.0, float("nan")]))
        Traceback (most recent call last):
            ...
        ValueError: logits must be finite (no NaN or +-inf entries)
    """
    if not isinstance(logits, Tensor) or not logits.is_floating_point():
        raise TypeError(f"logits must be a floating-point torch.Tensor, got {type(logits).__name__}")
    if logits.dim() < 1 or logits.shape[-1] < 1:
        raise ValueError(f"logits must have shape (..., n) with n >= 1 categories, got {tuple(logits.shape)}")
    if not bool(torch.isfinite(logits).all()):
        raise ValueError("logits must be finite (no NaN or +-inf entries)")
