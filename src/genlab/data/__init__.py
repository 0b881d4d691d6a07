"""Datasets (`DATASETS` registry), pixel transforms and the resumable batch stream."""

from __future__ import annotations

from genlab.data import digits, idx, image_folder, toy  # noqa: F401  (register loaders)
from genlab.data.dataset import DATASETS, Dataset
from genlab.data.pixels import Pixels
from genlab.data.stream import BatchStream

__all__ = ["DATASETS", "BatchStream", "Dataset", "Pixels", "load_dataset", "pixels_for"]


def load_dataset(cfg, seed: int = 0) -> Dataset:
    """Load the dataset a `DataConfig` names."""
    loader = DATASETS.get(cfg.name)
    return loader(
        data_dir=cfg.data_dir, n_samples=cfg.n_samples, test_fraction=cfg.test_fraction,
        seed=seed, image_size=cfg.image_size, grayscale=cfg.grayscale,
    )


def pixels_for(dataset: Dataset, cfg) -> Pixels | None:
    """The pixel transform for an image dataset (None for vector data)."""
    if not dataset.is_image:
        return None
    return Pixels(dataset.levels, cfg.pixels, cfg.range, cfg.logit_alpha)
