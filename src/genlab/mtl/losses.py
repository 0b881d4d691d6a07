"""Validation of a dict of named scalar losses, the common input of every multi-task rule."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor


def check_losses(losses: Mapping[str, Tensor]) -> list[str]:
    """Check `losses` maps names to scalar tensors; return the names (TypeError/ValueError otherwise).

    Example:
        >>> check_losses({"a": torch.tensor(1.0), "b": torch.tensor([2.0])})
        ['a', 'b']
    """
    if not isinstance(losses, Mapping):
        raise TypeError(f"losses must be a mapping name -> scalar tensor, got {type(losses).__name__}")
    if not losses:
        raise ValueError("losses must hold at least one named loss, got an empty mapping")
    for name, loss in losses.items():
        if not isinstance(loss, Tensor):
            raise TypeError(f"loss {name!r} must be a torch.Tensor, got {type(loss).__name__}")
        if loss.numel() != 1:
            raise ValueError(f"loss {name!r} must be a scalar, got shape {tuple(loss.shape)}")
    return list(losses)


def stack_losses(losses: Mapping[str, Tensor]) -> tuple[list[str], Tensor]:
    """Check `losses` maps names to scalar tensors and return (names, stacked [T] tensor, grads kept).

    Example:
        >>> stack_losses({"a": torch.tensor(1.0), "b": torch.tensor([2.0])})
        (['a', 'b'], tensor([1., 2.]))
    """
    return check_losses(losses), torch.stack([loss.reshape(()) for loss in losses.values()])
