"""Small checks shared by every part of genlab, each failing with one clear line."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from genlab.core.choices import choice as choice  # re-exported: its home needs no torch
from genlab.core.errors import ConfigError, DataError


def feature_matrix(x: Tensor | Sequence, what: str = "features", min_rows: int = 1,
                   dtype: torch.dtype = torch.float64, check_finite: bool = True) -> Tensor:
    """`x` as a finite (N, d) CPU tensor of `dtype` with N >= min_rows (a DataError otherwise).

    `check_finite=False` leaves the NaN/inf check to a caller that reduces the matrix anyway and
    passes the reduction to `check_finite_via`.
    """
    f = torch.as_tensor(x).detach().to("cpu", dtype)
    if f.ndim != 2 or len(f) < min_rows:
        need = f"N >= {min_rows}" if min_rows > 1 else "N >= 1"
        raise DataError(f"{what} must be an (N, d) array with {need}, got shape {tuple(f.shape)}")
    if check_finite and f.numel():
        check_finite_via(f.sum(), f, what)
    return f


def check_finite_via(reduced: Tensor, f: Tensor, what: str = "features") -> None:
    """DataError if `f` holds NaN or inf, decided from `reduced`, a sum or mean of `f`.

    The reduction is finite whenever every entry is, and it is already computed: an elementwise
    isfinite pass runs only when it is not (entries near the dtype's maximum may overflow it).
    """
    if not bool(torch.isfinite(reduced).all()) and not bool(torch.isfinite(f).all()):
        raise DataError(f"{what} contain NaN or inf values")


def check_range(name: str, value: float, low: float = -math.inf, high: float = math.inf, *,
                low_open: bool = False, high_open: bool = False) -> None:
    """ConfigError (a ValueError) unless `value` is a finite number in the interval (brackets as
    given); the message starts with `name`, e.g. "model.lr"."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    if not (math.isfinite(value) and above and below):
        close = ")" if high_open or math.isinf(high) else "]"
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{close}"
        raise ConfigError(f"{name} must be a finite number in {interval}, got {value!r}")


def check_int(name: str, value: int, low: int = 0) -> None:
    """ConfigError (a ValueError) unless `value` is an integer >= low."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
