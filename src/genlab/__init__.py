"""genlab: deep generative models behind one interface, one trainer and one offline metric suite."""

from genlab.config import Config, load_config
from genlab.core.errors import ConfigError, DataError, GenlabError, NonFiniteLossError
from genlab.models import MODELS, Model, StepContext, Update

__version__ = "0.1.0"
__all__ = [
    "MODELS", "Config", "ConfigError", "DataError", "Model", "GenlabError",
    "NonFiniteLossError", "StepContext", "Update", "load_config",
]
