"""`choice`, the one check that needs no torch (registries use it, and `genlab list` loads no torch)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from genlab.core.errors import ConfigError

T = TypeVar("T")


def choice(value: T, valid: Iterable[T], what: str) -> T:
    """`value` if it is one of `valid`; else a ConfigError naming `what` and listing the choices."""
    valid = list(valid)
    if value not in valid:
        raise ConfigError(f"unknown {what} {value!r}; choose one of: {', '.join(map(str, valid))}")
    return value
