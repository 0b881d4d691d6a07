"""Model families. Each module registers its classes in `MODELS` on import."""

from genlab.models import flows, gan, vae  # noqa: F401  (register nice/realnvp/glow, gan, vae)
from genlab.models.protocol import GenerativeModel, StepContext, Update
from genlab.models.registry import MODELS, build_model

__all__ = ["MODELS", "GenerativeModel", "StepContext", "Update", "build_model"]
