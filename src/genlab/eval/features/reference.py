"""Reference features of a dataset split, computed once and cached on disk.

The cache file name carries the dataset, split, number of images, a fingerprint of the images and
the feature network's SHA-256, so new weights or different data never reuse stale statistics.
Files live in `$GENLAB_CACHE/reference/` and hold the float32 features (needed by KID and PRDC)
plus their float64 `FeatureStats` (mean and scatter matrix).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

from genlab.core.checks import choice
from genlab.data import Dataset
from genlab.eval.features.net import extract_features
from genlab.eval.features.store import FeatureNet, cache_dir
from genlab.eval.features.train import unit_images
from genlab.eval.metrics.frechet import FeatureStats

SPLITS = ("test", "train")


@dataclass
class Reference:
    features: Tensor
    stats: FeatureStats
    split: str
    cached: bool


def _fingerprint(x: Tensor) -> str:
    return hashlib.sha256(x.contiguous().numpy().tobytes()).hexdigest()[:12]


def reference(net: FeatureNet, dataset: Dataset, split: str = "test", n: int | None = None,
              use_cache: bool = True) -> Reference:
    """Features and statistics of the first n images of a split, from the cache when possible."""
    choice(split, SPLITS, "reference split")
    stored = (dataset.test if split == "test" else dataset.train)[:n]
    name = f"{net.key}-{split}-n{len(stored)}-{_fingerprint(stored)}-{net.sha256[:16]}.safetensors"
    path = cache_dir() / "reference" / name
    if use_cache and path.is_file():
        try:
            t = load_file(str(path))
            stats = FeatureStats(t["mean"].shape[0])
            stats.n, stats.mean, stats.scatter = int(t["n"][0]), t["mean"], t["scatter"]
            return Reference(t["features"], stats, split, cached=True)
        except (SafetensorError, OSError, KeyError):
            pass  # unreadable cache entry: recompute and overwrite it
    feats = extract_features(net.net, unit_images(stored, dataset.levels))
    stats = FeatureStats.of(feats)
    if use_cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        save_file({"features": feats, "mean": stats.mean, "scatter": stats.scatter,
                   "n": torch.tensor([stats.n])}, str(tmp),
                  metadata={"dataset": dataset.name, "split": split, "feature_sha256": net.sha256})
        tmp.replace(path)
    return Reference(feats, stats, split, cached=False)
