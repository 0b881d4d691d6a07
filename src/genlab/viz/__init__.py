"""Pictures: sample grids, 2-D scatter plots and loss curves."""

from __future__ import annotations

from pathlib import Path

import torch

from genlab.data import Dataset, Pixels
from genlab.viz.grid import image_grid, save_grid
from genlab.viz.plots import plot_losses, plot_points

__all__ = ["image_grid", "plot_losses", "plot_points", "save_grid", "save_samples"]


def save_samples(samples: torch.Tensor, path: str | Path, dataset: Dataset | None,
                 pixels: Pixels | None, title: str = "") -> Path:
    """Write model samples as an image grid (images) or a scatter over test data (2-D vectors;
    without `dataset`, samples only)."""
    if pixels is not None:
        return save_grid(pixels.to_unit(samples.float()), path, title=title)
    if samples.ndim == 2 and samples.shape[1] == 2:
        return plot_points(samples, path, dataset.test[:2000] if dataset is not None else None, title)
    raise ValueError(f"cannot draw samples of shape {tuple(samples.shape)}")
