"""The in-memory dataset record every loader returns, and the dataset registry.

Example:
    `DATASETS` maps a config's `data.name` to its loader (a 2-D toy draws n_samples training points and
    a fresh test set of test_fraction times as many):

    >>> "8gaussians" in DATASETS.names()
    True
    >>> moons = DATASETS.get("moons")(n_samples=100, test_fraction=0.2, seed=0)
    >>> tuple(moons.train.shape), tuple(moons.test.shape), moons.spec.is_image
    ((100, 2), (20, 2), False)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from genlab.core.protocol import DataSpec
from genlab.data.registry import DATASETS as DATASETS  # noqa: F401  (its home: genlab.data.registry)


@dataclass
class Dataset:
    """Train/test tensors plus what is needed to interpret them.

    Images are stored as integer tensors (N, C, H, W) with `levels` discrete values; vector data
    (2-D toys) as float tensors (N, D) with `levels=None`; token data as integer tensors with
    `vocab_size` set (labels may then be token sequences too). `info` holds loader facts (e.g. a toy
    mixture's centres and standard deviation, or the files read).
    """

    name: str
    train: Tensor
    test: Tensor
    levels: int | None = None
    train_labels: Tensor | None = None
    test_labels: Tensor | None = None
    vocab_size: int | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.train.shape[1:])

    @property
    def is_image(self) -> bool:
        return self.levels is not None

    @property
    def spec(self) -> DataSpec:
        """What a model is built from: example shape, pixel levels, number of classes, vocabulary size."""
        n_classes = None
        if self.train_labels is not None and len(self.train_labels):
            n_classes = int(self.train_labels.max()) + 1
        return DataSpec(self.shape, self.levels, n_classes, self.vocab_size)

    def split_tensors(self, split: str) -> dict[str, Tensor]:
        """The named tensors of one split: `x`, and `y` where the data set has labels."""
        x, y = (self.train, self.train_labels) if split == "train" else (self.test, self.test_labels)
        return {"x": x} if y is None else {"x": x, "y": y}


DatasetLoader = Callable[..., Dataset]


def split(x: Tensor, labels: Tensor | None, test_fraction: float, seed: int):
    """Deterministic shuffled train/test split for data that ships without one."""
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    n_test = int(round(len(x) * test_fraction))
    test, train = perm[:n_test], perm[n_test:]
    if labels is None:
        return x[train], x[test], None, None
    return x[train], x[test], labels[train], labels[test]
