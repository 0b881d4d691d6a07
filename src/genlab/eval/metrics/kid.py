"""Kernel Inception Distance style MMD in any feature space (Bińkowski et al. 2018).

Bińkowski, Sutherland, Arbel & Gretton 2018 ("Demystifying MMD GANs") proposed the squared maximum
mean discrepancy with the cubic polynomial kernel k(x, y) = (x^T y / d + 1)^3, estimated without
bias and averaged over random subsets. Unlike the Fréchet distance its estimator is unbiased, so it
is the better choice for small sample sizes; it can be slightly negative for identical distributions.
"""

from __future__ import annotations

import torch
from torch import Tensor

from genlab.core.checks import feature_matrix
from genlab.core.errors import ConfigError, DataError


def polynomial_mmd2(x: Tensor, y: Tensor, degree: int = 3, coef: float = 1.0) -> float:
    """Unbiased MMD^2 of x (m, d) and y (n, d) with k(a, b) = (a^T b / d + coef)^degree."""
    x, y = feature_matrix(x, "real features", min_rows=2), feature_matrix(y, "fake features", min_rows=2)
    if x.shape[1] != y.shape[1]:
        raise DataError(f"feature dims differ: {x.shape[1]} vs {y.shape[1]}")
    d, m, n = x.shape[1], len(x), len(y)
    kxx = (x @ x.T / d + coef) ** degree
    kyy = (y @ y.T / d + coef) ** degree
    kxy = (x @ y.T / d + coef) ** degree
    return float((kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
                 + (kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1)) - 2 * kxy.mean())


def kernel_distance(real: Tensor, fake: Tensor, subsets: int = 100, subset_size: int = 1000,
                    seed: int = 0) -> dict[str, float | int]:
    """Mean and std of the unbiased polynomial MMD^2 over `subsets` random subsets.

    Each subset draws `subset_size` real and fake features without replacement (capped at the
    smaller set size), from a generator seeded with `seed`; when that cap makes every subset the
    whole set (e.g. the 359 digits test images), all subsets agree and `kid_std` is 0. Returns
    `kid` (mean), `kid_std`, `subsets`, `subset_size`, `n_real`, `n_fake`.
    """
    x = feature_matrix(real, "real features", min_rows=2)
    y = feature_matrix(fake, "fake features", min_rows=2)
    if subsets < 1 or subset_size < 2:
        raise ConfigError(f"KID needs subsets >= 1 and subset_size >= 2, got {subsets}, {subset_size}")
    m = min(subset_size, len(x), len(y))
    gen = torch.Generator().manual_seed(seed)
    values = torch.tensor([
        polynomial_mmd2(x[torch.randperm(len(x), generator=gen)[:m]],
                        y[torch.randperm(len(y), generator=gen)[:m]])
        for _ in range(subsets)
    ], dtype=torch.float64)
    std = float(values.std()) if subsets > 1 else 0.0
    return {"kid": float(values.mean()), "kid_std": std, "subsets": subsets, "subset_size": m,
            "n_real": len(x), "n_fake": len(y)}
