"""The model registry: config name -> `GenerativeModel` subclass."""

from __future__ import annotations

from genlab.core.protocol import GenerativeModel
from genlab.core.registry import Registry

MODELS: Registry[type[GenerativeModel]] = Registry("model")


def build_model(name: str, params, shape: tuple[int, ...]) -> GenerativeModel:
    return MODELS.get(name)(params, tuple(shape))
