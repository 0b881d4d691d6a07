"""Small checks shared by every part of genlab, each failing with one clear line."""

from __future__ import annotations

import math
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
    # One sum is several times cheaper than an elementwise isfinite pass, and it is finite whenever
    # every entry is (unless entries near the dtype's maximum overflow it: then check elementwise).
    if f.numel() and not math.isfinite(float(f.sum())) and not torch.isfinite(f).all():
        raise DataError(f"{what} contain NaN or inf values")
    return f


def check_range(name: str, value: float, low: float = -math.inf, high: float = math.inf, *,
                low_open: bool = False, high_open: bool = False) -> None:
    """ValueError unless `value` is a finite number in the interval (brackets as given); the message
    starts with `name`, so a config can prefix its section."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    if not (math.isfinite(value) and above and below):
        close = ")" if high_open or math.isinf(high) else "]"
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{close}"
        raise ValueError(f"{name} must be a finite number in {interval}, got {value!r}")


def check_int(name: str, value: int, low: int = 0) -> None:
    """ValueError unless `value` is an integer >= low."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
