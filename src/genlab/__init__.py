"""genlab: deep generative models behind one interface, one trainer and one offline metric suite.

    import genlab
    cfg = genlab.load_config("vae-digits", ["train.steps=500"])
    with genlab.Trainer(cfg, "runs/v", hooks=genlab.standard_hooks(cfg)) as trainer:
        trainer.fit()
    run = genlab.load_run("runs/v")
    images = run.model.sample(16)

Names are imported on first use, so `import genlab.recipes.stirling` does not load the models.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"  # also the package version (pyproject.toml reads it from here)

_EXPORTS = {
    "Config": "genlab.config", "load_config": "genlab.config",
    "Trainer": "genlab.train.trainer", "Hook": "genlab.train.trainer",
    "load_run": "genlab.runs", "standard_hooks": "genlab.runs", "Run": "genlab.runs",
    "MODELS": "genlab.models", "build_model": "genlab.models",
    "DATASETS": "genlab.data.registry", "load_dataset": "genlab.data",
    "evaluate": "genlab.eval.evaluate", "export_run": "genlab.export",
    "compare_runs": "genlab.report",
    **{name: "genlab.core.protocol" for name in (
        "Model", "DataSpec", "Update", "StepContext", "Sampler", "DensityModel", "Encoder")},
    **{name: "genlab.core.errors" for name in (
        "GenlabError", "ConfigError", "DataError", "NonFiniteLossError", "TrainingInterrupted")},
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'genlab' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
