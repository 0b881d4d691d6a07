"""The model registry: config name -> `Model` subclass."""

from __future__ import annotations

from genlab.core.protocol import DataSpec, Model
from genlab.core.registry import Registry

MODELS: Registry[type[Model]] = Registry("model")


def build_model(name: str, params, spec: DataSpec) -> Model:
    return MODELS.get(name)(params, spec)
