"""Deterministic training of a feature network on a labelled image dataset.

Adam, fixed seed, a fixed shuffling generator and single-process CPU training make the weights a
function of (dataset, recipe, torch version). The test accuracy is recorded in the manifest.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from genlab.core.errors import DataError
from genlab.data import Dataset
from genlab.eval.features.net import FeatureCNN, NetSpec


@dataclass(frozen=True)
class Recipe:
    epochs: int = 3
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0


DEFAULT_RECIPES = {"digits": Recipe(epochs=40, batch_size=64)}


def unit_images(x: Tensor, levels: int) -> Tensor:
    """Stored integer images (0..levels-1) -> float32 in [0, 1]."""
    return x.float() / (levels - 1)


@torch.no_grad()
def accuracy(net: FeatureCNN, x: Tensor, y: Tensor, batch_size: int = 1000) -> float:
    net.eval()
    correct = sum(int((net(x[i : i + batch_size]).argmax(1) == y[i : i + batch_size]).sum())
                  for i in range(0, len(x), batch_size))
    return correct / len(x)


def train_feature_net(dataset: Dataset, recipe: Recipe | None = None,
                      log: bool = False) -> tuple[FeatureCNN, dict[str, Any]]:
    """Train the CNN on the dataset's train split; returns it and a record for the manifest."""
    if not dataset.is_image or dataset.train_labels is None or dataset.test_labels is None:
        raise DataError(f"feature networks need a labelled image dataset; {dataset.name} is not one")
    recipe = recipe or DEFAULT_RECIPES.get(dataset.name, Recipe())
    c, h, w = dataset.shape
    n_classes = int(max(dataset.train_labels.max(), dataset.test_labels.max())) + 1
    torch.manual_seed(recipe.seed)
    net = FeatureCNN(NetSpec(c, h, w, n_classes))
    opt = torch.optim.Adam(net.parameters(), lr=recipe.lr)
    x_train, y_train = unit_images(dataset.train, dataset.levels), dataset.train_labels
    x_test, y_test = unit_images(dataset.test, dataset.levels), dataset.test_labels
    gen = torch.Generator().manual_seed(recipe.seed)
    start, history = time.perf_counter(), []
    for epoch in range(recipe.epochs):
        net.train()
        order = torch.randperm(len(x_train), generator=gen)
        for i in range(0, len(order), recipe.batch_size):
            idx = order[i : i + recipe.batch_size]
            loss = F.cross_entropy(net(x_train[idx]), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        acc = accuracy(net, x_test, y_test)
        history.append(round(acc, 4))
        if log:
            print(f"epoch {epoch + 1}/{recipe.epochs}: test accuracy {acc:.4f}", flush=True)
    net.eval()
    record = {
        "dataset": dataset.name, "test_accuracy": history[-1], "accuracy_per_epoch": history,
        "n_train": len(x_train), "n_test": len(x_test),
        "train_seconds": round(time.perf_counter() - start, 1),
        "recipe": {**asdict(recipe), "optimizer": "adam", "loss": "cross-entropy",
                   "inputs": "x / (levels - 1) in [0, 1]", "torch": torch.__version__,
                   "threads": torch.get_num_threads()},
        "arch": net.spec.to_dict(),
        "n_params": sum(p.numel() for p in net.parameters()),
    }
    return net, record
