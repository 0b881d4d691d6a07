"""Noise levels of a noise-conditional score network: sigma_1 > ... > sigma_L, geometric.

NCSNv2 (Song & Ermon 2020, "Improved techniques for training score-based generative models",
arXiv:2006.09011, sec. 3.1-3.2):

* Technique 1: sigma_1 as large as the largest Euclidean distance between two training examples, so
  that Langevin dynamics at the first level can move between any two modes
  (`largest_pairwise_distance`).
* Technique 2: a geometric sequence whose ratio gamma = sigma_{i-1} / sigma_i satisfies
  Phi(sqrt(2D) (gamma - 1) + 3 gamma) - Phi(sqrt(2D) (gamma - 1) - 3 gamma) ~ 0.5 (Phi the standard
  normal CDF, D the data dimension), so the high-density shells of N(0, sigma_{i-1}^2 I) and
  N(0, sigma_i^2 I) overlap (`ncsnv2_ratio`, `ncsnv2_levels`). The rule has a solution only for
  D > 4.5 (the second argument must be able to reach 0: sqrt(2D) > 3); low-dimensional data needs an
  explicit number of levels.
* Technique 4: given T Langevin steps per level, the step size eps that brings the chain's variance
  closest to the level's after T steps, for data that is a single point (`ncsnv2_eps`). Derived here
  for Algorithm 1's step x <- x + (alpha / 2) s + sqrt(alpha) z with alpha = eps sigma_i^2 / sigma_L^2:
  on q = N(0, sigma_i^2 I) the step is x <- (1 - b / 2) x + sqrt(alpha) z, b = eps / sigma_L^2, so the
  variance ratio r_t = s_t^2 / sigma_i^2 obeys r_{t+1} = (1 - b/2)^2 r_t + b, r_0 = gamma^2, and
  r_T = (1 - b/2)^{2T} (gamma^2 - r*) + r*, r* = 1 / (1 - b/4). NCSNv2's Proposition 3 writes
  (1 - eps / sigma_L^2) and 2 eps / (sigma_L^2 - sigma_L^2 (1 - eps / sigma_L^2)^2): the same with the
  official code's step x + alpha s + sqrt(2 alpha) z, whose eps is half of Algorithm 1's. r_T > 1 for
  every b (r* > 1, gamma > 1), so "r_T ~ 1" is met by the minimising b.

The sequence itself is `genlab.sampling.geometric_sigmas`, shared with the annealed Langevin sampler.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from genlab.core.checks import check_int, check_range
from genlab.core.errors import ConfigError, DataError


def largest_pairwise_distance(x: Tensor) -> Tensor:
    """max_{i<j} ||x_i - x_j|| over the examples of x (B, ...), a 0-dim float tensor (x's dtype).

    NCSNv2's technique 1 takes this over the whole training set; a model that only sees batches takes
    it over one (which can only underestimate the data set's)."""
    if len(x) < 2:
        raise DataError(f"the largest pairwise distance needs at least 2 examples, got {len(x)}")
    flat = x.detach().flatten(1)
    return torch.pdist(flat).max() if flat.shape[1] else flat.new_zeros(())


def _normal_cdf(u: float) -> float:
    return 0.5 * (1.0 + math.erf(u / math.sqrt(2.0)))


def shell_overlap(gamma: float, dim: int) -> float:
    """Phi(sqrt(2D) (gamma - 1) + 3 gamma) - Phi(sqrt(2D) (gamma - 1) - 3 gamma) (NCSNv2, technique 2)."""
    root = math.sqrt(2.0 * dim)
    return _normal_cdf(root * (gamma - 1) + 3 * gamma) - _normal_cdf(root * (gamma - 1) - 3 * gamma)


def ncsnv2_ratio(dim: int, target: float = 0.5) -> float:
    """The ratio gamma > 1 with `shell_overlap(gamma, dim) == target` (bisection to 1e-12).

    ConfigError where no gamma reaches the target (D <= 4.5 for 0.5): pass the levels explicitly."""
    check_int("data dimension", dim, 1)
    check_range("shell overlap target", target, 0.0, 1.0, low_open=True, high_open=True)
    root = math.sqrt(2.0 * dim)
    if root <= 3.0:
        raise ConfigError(f"NCSNv2's rule for the number of noise levels has no solution for "
                          f"{dim}-dimensional data; set model.levels")
    lo, hi = 1.0, root / (root - 3.0)  # at hi the second argument is 0: overlap = Phi(6 hi) - 1/2 < 1/2
    while shell_overlap(hi, dim) > target:  # only for targets below ~0.5
        hi *= 2.0
    if shell_overlap(lo, dim) < target:
        raise ConfigError(f"NCSNv2's rule cannot reach a shell overlap of {target} in {dim} dimensions")
    while hi - lo > 1e-12:
        mid = 0.5 * (lo + hi)
        if shell_overlap(mid, dim) > target:  # decreasing in gamma: the root lies above mid
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def ncsnv2_levels(sigma_max: float, sigma_min: float, dim: int) -> int:
    """L such that the geometric sequence from sigma_max to sigma_min has a ratio no larger than
    NCSNv2's gamma: L = 1 + ceil(log(sigma_max / sigma_min) / log(gamma))."""
    check_range("sigma_min", sigma_min, 0.0, low_open=True)
    check_range("sigma_max", sigma_max, sigma_min, low_open=True)
    gamma = ncsnv2_ratio(dim)
    return 1 + math.ceil(math.log(sigma_max / sigma_min) / math.log(gamma) - 1e-9)


def variance_ratio_after(steps: int, gamma: float, b: float) -> float:
    """r_T of technique 4 (see the module docstring) for b = eps / sigma_L^2 in (0, 4)."""
    a2 = (1.0 - b / 2.0) ** 2
    fixed = 1.0 / (1.0 - b / 4.0)
    return a2**steps * (gamma**2 - fixed) + fixed


def ncsnv2_eps(gamma: float, sigma_min: float, steps: int) -> float:
    """NCSNv2's technique 4: eps (Algorithm 1's convention) minimising |r_T - 1| for ratio `gamma`
    between levels and `steps` Langevin steps per level; eps = b sigma_L^2 with b from a log grid over
    (1e-4, 2) refined by golden-section search."""
    check_range("gamma", gamma, 1.0, low_open=True)
    check_range("sigma_min", sigma_min, 0.0, low_open=True)
    check_int("steps per level", steps, 1)
    grid = [10 ** (-4 + 4.3 * i / 400) for i in range(401)]  # 1e-4 .. 2
    values = [variance_ratio_after(steps, gamma, b) for b in grid]
    i = min(range(len(grid)), key=values.__getitem__)
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    golden = (math.sqrt(5.0) - 1.0) / 2.0
    for _ in range(100):
        m1, m2 = hi - golden * (hi - lo), lo + golden * (hi - lo)
        if variance_ratio_after(steps, gamma, m1) < variance_ratio_after(steps, gamma, m2):
            hi = m2
        else:
            lo = m1
    return 0.5 * (lo + hi) * sigma_min**2


__all__ = ["largest_pairwise_distance", "ncsnv2_eps", "ncsnv2_levels", "ncsnv2_ratio", "shell_overlap",
           "variance_ratio_after"]
