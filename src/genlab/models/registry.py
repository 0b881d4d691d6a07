"""The model registry: config name -> `Model` subclass.

Example:
    Every family registers its classes on import; an unknown name lists the valid ones:

    >>> "vae" in MODELS.names(), MODELS.get("vae").__name__
    (True, 'VAE')
    >>> MODELS.get("vea")
    Traceback (most recent call last):
      ...
    genlab.core.errors.ConfigError: unknown model 'vea'; choose one of: aae, ali, ...
"""

from __future__ import annotations

from genlab.core.protocol import DataSpec, Model
from genlab.core.registry import Registry

MODELS: Registry[type[Model]] = Registry("model")


def build_model(name: str, params, spec: DataSpec) -> Model:
    """The registered model `name` built from its `Config` instance `params` for data `spec`.

    Example:
        A small VAE for 2-D points (`genlab.train.build.build` also loads the runs a model builds on):

        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> model = build_model("vae", MODELS.get("vae").Config(latent_dim=2, hidden=32), DataSpec((2,)))
        >>> type(model).__name__, model.sample(4).shape
        ('VAE', torch.Size([4, 2]))
    """
    return MODELS.get(name)(params, spec)
