"""Train a recipe's classifier through genlab's `Trainer` without adding it to the library's models.

The model class is registered in `MODELS` only for the run (`MODELS.temporary`), the data set is handed
over in memory, and the run folder (config, metrics, final checkpoint) is a temporary one unless given.
Images reach the model as x / (levels - 1) in [0, 1] (`data.pixels=scale`, `data.range=unit`).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from genlab.config import Config
from genlab.core.protocol import Model
from genlab.data import Dataset
from genlab.eval.features.train import accuracy, unit_images
from genlab.models import MODELS
from genlab.train.trainer import Hook, Trainer


def train_labelled(name: str, model_cls: type[Model], options: dict[str, Any], dataset: Dataset, steps: int,
                   batch_size: int = 64, optim: dict[str, dict[str, Any]] | None = None, seed: int = 0,
                   device: str = "cpu", hooks: Sequence[Hook] = (), run_dir: str | Path | None = None
                   ) -> Model:
    """Train `model_cls` (registered as `name` meanwhile) on `dataset`'s train split; returns the model
    in eval mode. `optim` maps parameter groups to optimizer options (default: Adam, lr 1e-3)."""
    if name in MODELS:
        raise ValueError(f"model name {name!r} is taken by a library model; pick another")
    with MODELS.temporary(name, model_cls):
        cfg = Config.from_dict({
            "model": {"name": name, **options},
            "data": {"name": dataset.name, "batch_size": min(batch_size, len(dataset.train)),
                     "pixels": "scale", "range": "unit"},
            "optim": optim or {"default": {"name": "adam", "lr": 1e-3}},
            "train": {"steps": steps, "seed": seed, "device": device, "log_every": max(1, steps // 10),
                      "ckpt_every": 0, "keep_checkpoints": 1, "progress": False},
        })
        folder = (tempfile.TemporaryDirectory(prefix=f"genlab-{name}-") if run_dir is None
                  else contextlib.nullcontext(str(run_dir)))
        with folder as path, Trainer(cfg, path, dataset=dataset, hooks=hooks) as trainer:
            trainer.fit()
            return trainer.model.eval()


def held_out_accuracy(model: Model, dataset: Dataset) -> float:
    """Fraction of the test split whose argmax output matches its label."""
    if dataset.test_labels is None:
        raise ValueError(f"{dataset.name} has no test labels")
    return accuracy(model, unit_images(dataset.test, dataset.levels), dataset.test_labels)
