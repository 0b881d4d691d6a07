"""Small checks shared by every part of genlab, each failing with one clear line."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeVar

import torch
from torch import Tensor

from genlab.core.errors import ConfigError, DataError

T = TypeVar("T")


def choice(value: T, valid: Iterable[T], what: str) -> T:
    """`value` if it is one of `valid`; else a ConfigError naming `what` and listing the choices."""
    valid = list(valid)
    if value not in valid:
        raise ConfigError(f"unknown {what} {value!r}; choose one of: {', '.join(map(str, valid))}")
    return value


def feature_matrix(x: Tensor | Sequence, what: str = "features", min_rows: int = 1,
                   dtype: torch.dtype = torch.float64) -> Tensor:
    """`x` as a finite (N, d) CPU tensor of `dtype` with N >= min_rows (a DataError otherwise)."""
    f = torch.as_tensor(x).detach().to("cpu", dtype)
    if f.ndim != 2 or len(f) < min_rows:
        need = f"N >= {min_rows}" if min_rows > 1 else "N >= 1"
        raise DataError(f"{what} must be an (N, d) array with {need}, got shape {tuple(f.shape)}")
    if not torch.isfinite(f).all():
        raise DataError(f"{what} contain NaN or inf values")
    return f
