"""Range checks for optimizer options; messages start with the option name so configs can prefix it."""

from __future__ import annotations

import math


def check_range(name: str, value: float, low: float = -math.inf, high: float = math.inf, *,
                low_open: bool = False, high_open: bool = False) -> None:
    """ValueError unless `value` is a finite number in the interval (brackets as given)."""
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
