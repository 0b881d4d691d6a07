"""Model families, one package each. Each registers its classes in `MODELS` on import."""

from genlab.core.protocol import DataSpec, DensityModel, Encoder, Model, Sampler, StepContext, Update
from genlab.models import aae, ali, classifier, flow, gan, vae  # noqa: F401  (each registers its models)
from genlab.models.registry import MODELS, build_model

__all__ = ["MODELS", "DataSpec", "DensityModel", "Encoder", "Model", "Sampler", "StepContext", "Update",
           "build_model"]
