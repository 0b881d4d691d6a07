"""scikit-learn's bundled 8x8 digits (1797 images, values 0..16): no download needed."""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits

from genlab.data.dataset import DATASETS, Dataset, split


@DATASETS.register("digits")
def load(test_fraction: float = 0.2, seed: int = 0, **_) -> Dataset:
    bunch = load_digits()
    x = torch.from_numpy(bunch.images).to(torch.uint8).unsqueeze(1)  # (1797, 1, 8, 8), 0..16
    y = torch.from_numpy(bunch.target).long()
    # The split is fixed (seed 0), independent of the training seed, so test sets stay comparable.
    xtr, xte, ytr, yte = split(x, y, test_fraction, seed=0)
    return Dataset("digits", xtr, xte, levels=17, train_labels=ytr, test_labels=yte,
                   info={"source": "sklearn.datasets.load_digits", "split_seed": 0})
