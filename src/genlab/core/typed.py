"""Typed configs from YAML: dataclasses built from plain mappings with every value checked.

`build_dataclass(cls, raw, prefix)` converts each value to its annotated type (unions, tuples,
lists, dicts, `Literal` choices, nested dataclasses) and fails with one line naming the key (`prefix` +
field). Choices are `Literal[...]` annotations, so a bad option fails here, when the config is built,
before any data is loaded; ranges are checked by the dataclass's `__post_init__` with
`genlab.core.checks.check_range` / `check_int`, which raise `ConfigError` themselves.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any

from genlab.core.errors import ConfigError


def check_keys(raw: dict[str, Any], valid: set[str], prefix: str) -> None:
    unknown = sorted(set(raw) - valid)
    if unknown:
        raise ConfigError(
            f"unknown config key {prefix}{unknown[0]}; valid keys here: {', '.join(sorted(valid))}"
        )


def build_dataclass(cls: type, raw: Any, prefix: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{prefix.rstrip('.')} must be a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    check_keys(raw, fields, prefix)
    kwargs = {k: coerce(v, hints[k], prefix + k) for k, v in raw.items()}
    try:
        return cls(**kwargs)
    except ConfigError:  # a range check in __post_init__ names its own key
        raise
    except (TypeError, ValueError) as err:
        raise ConfigError(f"invalid {prefix.rstrip('.') or 'config'}: {err}") from None


def coerce(value: Any, tp: Any, key: str) -> Any:
    """Convert a YAML value to the annotated type, or raise a one-line ConfigError."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return coerce(value, arg, key)
            except ConfigError as err:
                errors.append(err)
        raise errors[0]
    if tp is Any:
        return value
    if origin is typing.Literal:
        for option in args:  # YAML may give 1 for "1" or "True" for True: compare as written
            if value == option or (isinstance(value, (str, int, float)) and str(value) == str(option)):
                return option
        raise ConfigError(f"unknown {key} {value!r}; choose one of: {', '.join(map(str, args))}")
    if dataclasses.is_dataclass(tp):
        return build_dataclass(tp, value, key + ".")
    if origin in (tuple, list):
        if isinstance(value, str):
            value = [v for v in value.strip("()[] ").split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"bad value for {key}: expected a list, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(f"bad value for {key}: expected {len(args)} items, got {value!r}")
            return tuple(coerce(v, a, key) for v, a in zip(value, args))
        item = args[0] if args else Any
        return origin(coerce(v, item, key) for v in value)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"bad value for {key}: expected a mapping, got {value!r}")
        kt, vt = args or (Any, Any)
        return {coerce(k, kt, key): coerce(v, vt, key) for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise ConfigError(f"bad value for {key}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"bad value for {key}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        try:
            return int(str(value))
        except ValueError:
            raise ConfigError(f"bad value for {key}: expected an integer, got {value!r}") from None
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"bad value for {key}: expected a number, got {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"bad value for {key}: expected a number, got {value!r}") from None
        if not math.isfinite(number):
            raise ConfigError(f"{key} must be a finite number, got {value!r}")
        return number
    if tp is str:
        if isinstance(value, (dict, list)) or value is None:
            raise ConfigError(f"bad value for {key}: expected a string, got {value!r}")
        return str(value)
    return value


def plain(obj: Any) -> Any:
    """Tuples -> lists, recursively, so the dict dumps as plain YAML/JSON."""
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    return obj
