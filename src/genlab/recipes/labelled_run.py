"""Train a recipe's classifier through genlab's `Trainer` without adding it to the library's models.

The model class is handed to the Trainer built (`genlab.recipes.fit`), the data set is handed over in
memory, and the run folder (config, metrics, final checkpoint) is a temporary one unless given.
Images reach the model as x / (levels - 1) in [0, 1] (`data.pixels=scale`, `data.range=unit`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from genlab.core.protocol import Model
from genlab.data import Dataset
from genlab.eval.features.net import accuracy, unit_images
from genlab.recipes.fit import recipe_config, trained
from genlab.train.trainer import Hook

# FeatureCNN-style inputs: plain scaling to [0, 1], no dequantization noise.
UNIT_PIXELS = {"pixels": "scale", "range": "unit"}


def train_labelled(name: str, model_cls: type[Model], options: dict[str, Any], dataset: Dataset, steps: int,
                   batch_size: int = 64, optim: dict[str, dict[str, Any]] | None = None, seed: int = 0,
                   device: str = "cpu", hooks: Sequence[Hook] = (), run_dir: str | Path | None = None
                   ) -> Model:
    """Train `model_cls` (called `name` in the run's config) on `dataset`'s train split; returns the model
    in eval mode. `optim` maps parameter groups to optimizer options (default: Adam, lr 1e-3)."""
    cfg = recipe_config(name, model_cls, options, dataset, steps=steps,
                        batch_size=min(batch_size, len(dataset.train)),
                        optim=optim or {"default": {"name": "adam", "lr": 1e-3}}, seed=seed, device=device,
                        log_every=max(1, steps // 10), data=UNIT_PIXELS)
    with trained(cfg, model_cls, dataset, hooks, run_dir) as trainer:
        return trainer.model.eval()


def held_out_accuracy(model: Model, dataset: Dataset) -> float:
    """Fraction of the test split whose argmax output matches its label."""
    if dataset.test_labels is None:
        raise ValueError(f"{dataset.name} has no test labels")
    return accuracy(model, unit_images(dataset.test, dataset.levels), dataset.test_labels)
