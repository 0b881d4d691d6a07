"""Datasets (`DATASETS` registry), pixel transforms and the resumable batch stream.

Importing this package loads no dataset module (nor torch): `DATASETS` lists the names from a static
table and imports a loader when its name is first looked up; the other names load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from genlab.data.registry import DATASETS

if TYPE_CHECKING:
    from genlab.data.dataset import Dataset
    from genlab.data.pixels import Pixels

_LAZY = {"Dataset": "genlab.data.dataset", "Pixels": "genlab.data.pixels",
         "BatchStream": "genlab.data.stream"}

__all__ = ["DATASETS", "BatchStream", "Dataset", "Pixels", "load_dataset", "pixels_for"]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'genlab.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def load_dataset(cfg, seed: int = 0) -> Dataset:
    """Load the dataset a `DataConfig` names.

    Example:
        scikit-learn's 8x8 digits (shipped with it): integer pixels with 17 levels, and labels:

        >>> from genlab import load_config
        >>> data = load_dataset(load_config("vae-digits").data)
        >>> data.name, tuple(data.train.shape[1:]), data.train.dtype, data.spec.levels, data.spec.n_classes
        ('digits', (1, 8, 8), torch.uint8, 17, 10)
    """
    loader = DATASETS.get(cfg.name)
    return loader(
        data_dir=cfg.data_dir, n_samples=cfg.n_samples, test_fraction=cfg.test_fraction,
        seed=seed, image_size=cfg.image_size, grayscale=cfg.grayscale,
    )


def pixels_for(dataset: Dataset, cfg) -> Pixels | None:
    """The pixel transform for an image dataset (None for vector data)."""
    from genlab.data.pixels import Pixels

    if not dataset.is_image:
        return None
    return Pixels(dataset.levels, cfg.pixels, cfg.range, cfg.logit_alpha)
