"""`DATASETS`: config `data.name` -> loader, listed from a static table without importing any loader.

A loader module (and what it needs: torch, scikit-learn for `digits` and the 2-D toys) is imported
when one of its names is first looked up, so `genlab list` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from genlab.core.registry import Registry

if TYPE_CHECKING:
    from genlab.data.dataset import DatasetLoader

# name -> the module whose import registers it (tests/models/test_registry_lazy.py checks the table).
_DATASET_MODULES = {
    **{toy: "genlab.data.toy" for toy in
       ("8gaussians", "25gaussians", "swissroll", "moons", "rings", "checkerboard")},
    "digits": "genlab.data.digits",
    "fashion-mnist": "genlab.data.idx",
    "mnist": "genlab.data.idx",
    "image-folder": "genlab.data.image_folder",
}
DATASETS: Registry[DatasetLoader] = Registry("dataset", lazy=_DATASET_MODULES)
