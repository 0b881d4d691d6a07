"""Deterministic training of a feature network: the `classifier` model run by genlab's `Trainer`.

Adam, a fixed seed, the trainer's seeded batch order (last incomplete batch of each epoch dropped)
and single-process CPU training make the weights a function of (dataset, recipe, torch version).
The test accuracy after each epoch is recorded in the manifest. `genlab features train` runs this;
`genlab.eval.features` stores, loads and applies the result.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from genlab.config import Config
from genlab.core.errors import DataError
from genlab.data import Dataset
from genlab.eval.features.net import accuracy, unit_images
from genlab.models import MODELS
from genlab.nets.feature_cnn import FeatureCNN
from genlab.recipes.fit import recipe_config, trained
from genlab.recipes.labelled_run import UNIT_PIXELS
from genlab.train.trainer import Trainer


@dataclass(frozen=True)
class Recipe:
    epochs: int = 3
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0


DEFAULT_RECIPES = {"digits": Recipe(epochs=40, batch_size=64)}


@dataclass
class EpochAccuracy:
    """Trainer hook: test accuracy at the end of every epoch, kept in `history` and logged."""

    steps_per_epoch: int
    x_test: Tensor
    y_test: Tensor
    log: bool = False
    history: list[float] | None = None

    def due(self, step: int, end: bool) -> bool:
        return step % self.steps_per_epoch == 0

    def __call__(self, trainer: Trainer) -> None:
        acc = accuracy(trainer.model, self.x_test, self.y_test)
        trainer.model.train()
        self.history = [*(self.history or []), round(acc, 4)]
        trainer.log_record({"test_accuracy": acc})
        if self.log:
            epochs = trainer.cfg.train.steps // self.steps_per_epoch
            print(f"epoch {len(self.history)}/{epochs}: test accuracy {acc:.4f}", flush=True)


def classifier_config(dataset: Dataset, recipe: Recipe, n_classes: int, device: str = "cpu") -> Config:
    """The run config that trains `dataset`'s feature network with `recipe` (epochs -> steps)."""
    batch_size = min(recipe.batch_size, len(dataset.train))  # tiny folders: one batch per epoch
    steps_per_epoch = len(dataset.train) // batch_size
    # FeatureCNN takes x / (levels - 1) in [0, 1]: plain scaling, no dequantization noise.
    return recipe_config("classifier", MODELS.get("classifier"), {"n_classes": n_classes}, dataset,
                         steps=recipe.epochs * steps_per_epoch, batch_size=batch_size,
                         optim={"default": {"name": "adam", "lr": recipe.lr}}, seed=recipe.seed,
                         device=device, log_every=steps_per_epoch, data=UNIT_PIXELS)


def train_feature_net(dataset: Dataset, recipe: Recipe | None = None, log: bool = False,
                      run_dir: str | Path | None = None,
                      device: str = "cpu") -> tuple[FeatureCNN, dict[str, Any]]:
    """Train the CNN on the dataset's train split through `Trainer`; returns it and a manifest record.

    The run (config, metrics, final checkpoint) goes to `run_dir`, or a temporary folder.
    """
    if not dataset.is_image or dataset.train_labels is None or dataset.test_labels is None:
        raise DataError(f"feature networks need a labelled image dataset; {dataset.name} is not one")
    recipe = recipe or DEFAULT_RECIPES.get(dataset.name, Recipe())
    if recipe.epochs < 1 or recipe.batch_size < 1:
        raise ValueError(f"recipe epochs and batch_size must be >= 1, got {recipe}")
    n_classes = int(max(dataset.train_labels.max(), dataset.test_labels.max())) + 1
    cfg = classifier_config(dataset, recipe, n_classes, device)
    x_test, y_test = unit_images(dataset.test, dataset.levels), dataset.test_labels
    hook = EpochAccuracy(cfg.train.log_every, x_test, y_test, log)
    start = time.perf_counter()
    with trained(cfg, MODELS.get("classifier"), dataset, [hook], run_dir) as trainer:
        net: FeatureCNN = trainer.model.net.cpu().eval()
    history = hook.history or []
    record = {
        "dataset": dataset.name, "test_accuracy": history[-1], "accuracy_per_epoch": history,
        "n_train": len(dataset.train), "n_test": len(x_test),
        "train_seconds": round(time.perf_counter() - start, 1),
        "recipe": {**asdict(recipe), "batch_size": cfg.data.batch_size, "steps": cfg.train.steps,
                   "optimizer": "adam", "loss": "cross-entropy", "trainer": "genlab.train.Trainer",
                   "inputs": "x / (levels - 1) in [0, 1]", "torch": torch.__version__,
                   "threads": torch.get_num_threads()},
        "arch": net.spec.to_dict(),
        "n_params": sum(p.numel() for p in net.parameters()),
    }
    return net, record


__all__ = ["DEFAULT_RECIPES", "EpochAccuracy", "Recipe", "classifier_config", "train_feature_net"]
