"""2-D toy distributions, generated from a seed.

Gaussian mixtures follow the WGAN-GP toy code (Gulrajani et al. 2017, igul222/improved_wgan_training):
`8gaussians` has 8 centres on a circle of radius 2 and std 0.02, `25gaussians` a 5x5 grid 2*{-2..2}^2
with std 0.05, both divided by their scale (1.414 and 2.828) afterwards; their centres and std are
kept in `Dataset.info` for mode-coverage metrics. The others follow the FFJORD toy set.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.datasets import make_moons, make_swiss_roll

from genlab.data.dataset import DATASETS, Dataset


def _mixture(rng: np.random.Generator, centers: np.ndarray, std: float, n: int) -> np.ndarray:
    idx = rng.integers(len(centers), size=n)
    return centers[idx] + std * rng.standard_normal((n, 2))


def _gaussians8() -> tuple[np.ndarray, float]:
    angles = np.arange(8) * (2 * math.pi / 8)
    centers = 2 * np.stack([np.cos(angles), np.sin(angles)], 1) / 1.414
    return centers, 0.02 / 1.414


def _gaussians25() -> tuple[np.ndarray, float]:
    g = np.arange(-2, 3) * 2.0
    centers = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2) / 2.828
    return centers, 0.05 / 2.828


def _sample(name: str, n: int, seed: int) -> tuple[np.ndarray, dict]:
    # scikit-learn's generators take seeds below 2**32; train.seed may be up to 2**63 - 1.
    rng = np.random.default_rng(seed)
    if name == "8gaussians":
        centers, std = _gaussians8()
        return _mixture(rng, centers, std, n), {"centers": centers.tolist(), "std": std}
    if name == "25gaussians":
        centers, std = _gaussians25()
        return _mixture(rng, centers, std, n), {"centers": centers.tolist(), "std": std}
    if name == "swissroll":
        x = make_swiss_roll(n, noise=0.25, random_state=seed % 2**32)[0][:, [0, 2]] / 7.5
        return x, {}
    if name == "moons":
        x = make_moons(n, noise=0.05, random_state=seed % 2**32)[0] * 2 + np.array([-1.0, -0.2])
        return x, {}
    if name == "rings":  # four concentric circles, radii 1, .75, .5, .25, times 3, plus noise
        radius = rng.choice([1.0, 0.75, 0.5, 0.25], size=n)
        angle = rng.uniform(0, 2 * math.pi, size=n)
        x = 3 * radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], 1)
        return x + 0.08 * rng.standard_normal((n, 2)), {}
    if name == "checkerboard":  # x1 ~ U[-2, 2], x2 in alternating unit cells, times 2
        x1 = rng.uniform(-2, 2, size=n)
        x2 = rng.uniform(0, 1, size=n) - rng.integers(0, 2, size=n) * 2.0 + np.floor(x1) % 2
        return np.stack([x1, x2], 1) * 2, {}
    raise KeyError(name)


TOYS = ("8gaussians", "25gaussians", "swissroll", "moons", "rings", "checkerboard")


def toy_samples(name: str, n: int, seed: int) -> torch.Tensor:
    """n fresh samples of a toy distribution (float32, shape (n, 2)); the `cfm` family's toy
    sources draw from here."""
    return torch.from_numpy(_sample(name, n, seed)[0]).float()


def toy_mixture(name: str) -> tuple[np.ndarray, float] | None:
    """(centres (K, 2), std) of a Gaussian-mixture toy (equal weights), None for the other toys."""
    return {"8gaussians": _gaussians8, "25gaussians": _gaussians25}.get(name, lambda: None)()


def _register(name: str) -> None:
    @DATASETS.register(name)
    def load(n_samples: int = 20000, test_fraction: float = 0.2, seed: int = 0, **_) -> Dataset:
        n_test = max(1, int(round(n_samples * test_fraction)))
        train, info = _sample(name, n_samples, seed)
        test, _ = _sample(name, n_test, seed + 1)
        info["n_train"], info["n_test"] = n_samples, n_test
        return Dataset(name, torch.from_numpy(train).float(), torch.from_numpy(test).float(),
                       info=info)


for _name in TOYS:
    _register(_name)
