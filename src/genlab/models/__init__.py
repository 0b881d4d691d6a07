"""Model families, one package each.

Importing this package imports no family (nor torch): `MODELS` lists every name from a static table
and imports a family, which registers its classes, when one of its names is first looked up.
"""

from __future__ import annotations

import importlib
from typing import Any

from genlab.models.registry import MODELS, build_model

_PROTOCOL = ("DataSpec", "DensityModel", "Encoder", "Model", "Sampler", "StepContext", "Update")

__all__ = ["MODELS", "build_model", *_PROTOCOL]


def __getattr__(name: str) -> Any:
    """The model-contract names, re-exported from `genlab.core.protocol` on first use."""
    if name not in _PROTOCOL:
        raise AttributeError(f"module 'genlab.models' has no attribute {name!r}")
    value = getattr(importlib.import_module("genlab.core.protocol"), name)
    globals()[name] = value
    return value
