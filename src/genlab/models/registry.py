"""The model registry: config name -> `Model` subclass.

`MODELS` lists every model name from the static table below without importing any family (nor
torch); a family is imported, and registers its classes, when one of its names is first looked up.

Example:
    Names are listed without importing the families; an unknown name lists the valid ones:

    >>> "vae" in MODELS.names(), MODELS.get("vae").__name__
    (True, 'VAE')
    >>> MODELS.get("vea")
    Traceback (most recent call last):
      ...
    genlab.core.errors.ConfigError: unknown model 'vea'; choose one of: aae, ali, ...
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from genlab.core.registry import Registry

if TYPE_CHECKING:  # not imported at run time: listing the names must not load torch
    from genlab.core.protocol import DataSpec, Model

# name -> the module whose import registers it (tests/models/test_registry_lazy.py checks this table
# against what the families register).
_MODEL_MODULES = {
    "aae": "genlab.models.aae.model",
    "ali": "genlab.models.ali.model",
    "cfm": "genlab.models.cfm.model",
    "classifier": "genlab.models.classifier.model",
    "diffusion": "genlab.models.diffusion.model",
    "ebm": "genlab.models.ebm.model",
    "gan": "genlab.models.gan.model",
    "glow": "genlab.models.flow.model",
    "infomax": "genlab.models.infomax.model",
    "multitask": "genlab.models.multitask.model",
    "ncsn": "genlab.models.ncsn.model",
    "nice": "genlab.models.flow.model",
    "realnvp": "genlab.models.flow.model",
    "vae": "genlab.models.vae.model",
    "vqvae": "genlab.models.vqvae.model",
    "vqvae-prior": "genlab.models.vqvae.prior",
}
MODELS: Registry[type[Model]] = Registry("model", lazy=_MODEL_MODULES)


def build_model(name: str, params, spec: DataSpec) -> Model:
    """The registered model `name` built from its `Config` instance `params` for data `spec`.

    Example:
        A small VAE for 2-D points (`genlab.train.build.build` also loads the runs a model builds on):

        >>> import torch
        >>> from genlab import DataSpec
        >>> _ = torch.manual_seed(0)
        >>> model = build_model("vae", MODELS.get("vae").Config(latent_dim=2, hidden=32), DataSpec((2,)))
        >>> type(model).__name__, model.sample(4).shape
        ('VAE', torch.Size([4, 2]))
    """
    return MODELS.get(name)(params, spec)
