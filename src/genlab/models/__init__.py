"""Model families, one package each. Each registers its classes in `MODELS` on import."""

from genlab.core.protocol import DataSpec, DensityModel, Encoder, Model, Sampler, StepContext, Update
from genlab.models import (  # noqa: F401  (each registers its models)
    aae,
    ali,
    cfm,
    classifier,
    diffusion,
    ebm,
    flow,
    gan,
    infomax,
    multitask,
    ncsn,
    vae,
    vqvae,
)
from genlab.models.registry import MODELS, build_model

__all__ = ["MODELS", "DataSpec", "DensityModel", "Encoder", "Model", "Sampler", "StepContext", "Update",
           "build_model"]
