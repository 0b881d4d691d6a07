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
                    seed: int = 0) -> dict[str, float | int | None]:
    """Mean and std of the unbiased polynomial MMD^2 over `subsets` random subsets (raw, not x1000).

    Each subset draws `subset_size` real and fake features without replacement, from a generator
    seeded with `seed`. With fewer than 2 * subset_size examples on the smaller side, subsets of
    that size would (nearly) all be the same set and their std would say nothing, so the size drops
    to n // 2, where n is the smaller set size. `subsets=1` gives the single full-set unbiased
    estimate (subset size min(subset_size, n)) and `kid_std` None. Returns `kid` (mean), `kid_std`,
    `subsets`, `subset_size` (the size used), `n_real`, `n_fake`.
    """
    x = feature_matrix(real, "real features", min_rows=2)
    y = feature_matrix(fake, "fake features", min_rows=2)
    if subsets < 1 or subset_size < 2:
        raise ConfigError(f"KID needs subsets >= 1 and subset_size >= 2, got {subsets}, {subset_size}")
    n = min(len(x), len(y))
    if subsets == 1:
        m = min(subset_size, n)
    else:
        m = subset_size if n >= 2 * subset_size else n // 2
        if m < 2:
            raise DataError(f"KID with {subsets} subsets needs at least 4 real and fake features, got {n}")
    gen = torch.Generator().manual_seed(seed)
    values = torch.tensor([
        polynomial_mmd2(x[torch.randperm(len(x), generator=gen)[:m]],
                        y[torch.randperm(len(y), generator=gen)[:m]])
        for _ in range(subsets)
    ], dtype=torch.float64)
    std = float(values.std()) if subsets > 1 else None
    return {"kid": float(values.mean()), "kid_std": std, "subsets": subsets, "subset_size": m,
            "n_real": len(x), "n_fake": len(y)}
