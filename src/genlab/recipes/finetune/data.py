"""Preparing a target data set for a pretrained backbone: resize its images to the backbone's input and
keep a few labelled examples per class (where transfer pays most)."""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from genlab.core.checks import check_int
from genlab.data import Dataset


def resize_images(dataset: Dataset, height: int, width: int) -> Dataset:
    """Both splits bilinearly resized to height x width, rounded back to the stored integer levels."""
    check_int("height", height, 1)
    check_int("width", width, 1)
    if not dataset.is_image:
        raise ValueError(f"{dataset.name} is not an image data set")

    def resize(x: torch.Tensor) -> torch.Tensor:
        y = F.interpolate(x.float(), size=(height, width), mode="bilinear", align_corners=False)
        return y.round().clamp(0, dataset.levels - 1).to(x.dtype)

    return dataclasses.replace(dataset, train=resize(dataset.train), test=resize(dataset.test),
                               info={**dataset.info, "resized_to": [height, width]})


def few_per_class(dataset: Dataset, n: int, seed: int = 0) -> Dataset:
    """The training split cut to `n` random examples of each class (all of a class with fewer); the
    test split is kept whole."""
    check_int("examples per class", n, 1)
    if dataset.train_labels is None:
        raise ValueError(f"{dataset.name} has no labels")
    g = torch.Generator().manual_seed(seed)
    keep = []
    for c in dataset.train_labels.unique():
        idx = (dataset.train_labels == c).nonzero().squeeze(1)
        keep.append(idx[torch.randperm(len(idx), generator=g)[:n]])
    order = torch.cat(keep).sort().values
    return dataclasses.replace(dataset, train=dataset.train[order], train_labels=dataset.train_labels[order],
                               info={**dataset.info, "per_class": n})
