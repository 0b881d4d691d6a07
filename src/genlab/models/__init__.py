"""Model families. Each module registers its classes in `MODELS` on import."""

from genlab.models import vae  # noqa: E402,F401  (registers)
from genlab.models import gan  # noqa: E402,F401
from genlab.models.protocol import GenerativeModel, StepContext, Update
from genlab.models.registry import MODELS, build_model

__all__ = ["MODELS", "GenerativeModel", "StepContext", "Update", "build_model"]
