"""Named run configs shipped with genlab (`genlab list` shows them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genlab.core.errors import ConfigError
from genlab.core.strict_yaml import load_yaml_file

PRESET_DIR = Path(__file__).parent


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def load_preset_dict(source: str) -> dict[str, Any]:
    """Raw dict of a preset name or of a YAML file path."""
    path = Path(source)
    if not (source.endswith((".yaml", ".yml")) or path.is_file()):
        path = PRESET_DIR / f"{source}.yaml"
        if not path.is_file():
            raise ConfigError(
                f"unknown preset {source!r} (and no such YAML file); "
                f"choose one of: {', '.join(preset_names())}"
            )
    if not path.is_file():
        raise ConfigError(f"config file {source!r} does not exist")
    raw = load_yaml_file(path) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must hold a mapping with model/data/optim/train sections")
    return raw
