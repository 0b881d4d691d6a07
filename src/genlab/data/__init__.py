"""Datasets (`DATASETS` registry), pixel transforms and the resumable batch stream."""

from __future__ import annotations

from genlab.data import digits, idx, image_folder, toy  # noqa: F401  (register loaders)
from genlab.data.dataset import DATASETS, Dataset
from genlab.data.pixels import Pixels
from genlab.data.stream import BatchStream

__all__ = ["DATASETS", "BatchStream", "Dataset", "Pixels", "load_dataset", "pixels_for"]


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
    if not dataset.is_image:
        return None
    return Pixels(dataset.levels, cfg.pixels, cfg.range, cfg.logit_alpha)
