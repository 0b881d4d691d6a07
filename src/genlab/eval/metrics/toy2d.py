"""Sample metrics for the 2-D toy distributions.

Gaussian mixtures (8gaussians, 25gaussians, VEEGAN's ring and grid) use the mode-coverage protocol of
VEEGAN (Srivastava et al. 2017), extended with a reverse KL by PacGAN (Lin et al. 2018): a sample is
*high quality* when its standardised distance to the nearest centre is below `threshold` (3 std), a
mode is *captured* when it is the nearest centre of at least one high-quality sample, and the reverse
KL compares the histogram of high-quality samples over modes with the uniform mixture weights.
Even perfect samples score only about 98.9 % high quality at 3 std (1 - exp(-4.5) in 2-D).

Toys that are not mixtures are compared with their true distribution by an unbiased MMD^2 with a
Gaussian (RBF) kernel (Gretton et al. 2012, "A kernel two-sample test").
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from genlab.core.checks import feature_matrix
from genlab.core.errors import ConfigError, DataError


def mode_coverage(samples: Tensor, centers: Tensor | Sequence, std: float,
                  threshold: float = 3.0) -> dict[str, float | int]:
    """Modes captured, high-quality fraction and reverse KL of samples from a Gaussian mixture.

    `centers` are the K mixture means (K, D) with equal weights and isotropic standard deviation
    `std`. Returns `modes` (int, 0..K), `high_quality` (fraction in [0, 1]), `reverse_kl`
    (KL(HQ histogram || uniform), nats; 0 when all modes are hit equally, ln(K/m) when m modes are
    hit equally; inf when no sample is high quality), `n_modes` (K) and `n` (number of samples).

    Example:
        >>> centers = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
        >>> r = mode_coverage(torch.zeros(5, 2), centers, std=1.0)  # every sample on mode 0
        >>> r["modes"], r["high_quality"], round(r["reverse_kl"], 4)  # reverse KL ln 2
        (1, 1.0, 0.6931)
    """
    x = feature_matrix(samples, "samples")
    c = feature_matrix(centers, "centers")
    if x.shape[1] != c.shape[1]:
        raise DataError(f"samples have {x.shape[1]} dims but centers have {c.shape[1]}")
    if not std > 0 or not threshold > 0:
        raise ConfigError(f"std and threshold must be positive, got std={std}, threshold={threshold}")
    dist, nearest = torch.cdist(x, c).min(dim=1)
    hq = dist / std < threshold
    counts = torch.bincount(nearest[hq], minlength=len(c)).double()
    n_hq = int(counts.sum())
    if n_hq == 0:
        rkl = math.inf
    else:
        p = counts[counts > 0] / n_hq
        rkl = float((p * (p * len(c)).log()).sum())
    return {"modes": int((counts > 0).sum()), "high_quality": n_hq / len(x), "reverse_kl": rkl,
            "n_modes": len(c), "n": len(x)}


def mixture_log_likelihood(samples: Tensor, centers: Tensor | Sequence, std: float) -> float:
    """Mean log-density (nats) of samples under the equal-weight isotropic Gaussian mixture.

    Example:
        >>> round(mixture_log_likelihood(torch.zeros(5, 1), torch.zeros(1, 1), std=1.0), 4)  # log N(0; 0, 1)
        -0.9189
    """
    x = feature_matrix(samples, "samples")
    c = feature_matrix(centers, "centers")
    d = x.shape[1]
    sq = torch.cdist(x, c).square()
    log_comp = -sq / (2 * std**2) - d * math.log(std) - 0.5 * d * math.log(2 * math.pi)
    return float((torch.logsumexp(log_comp, 1) - math.log(len(c))).mean())


def _sq_dists(a: Tensor, b: Tensor) -> Tensor:
    return torch.cdist(a, b).square()


def median_bandwidth(x: Tensor, max_points: int = 2000) -> float:
    """The median pairwise distance of (up to `max_points` of) x: the usual RBF bandwidth.

    Example:
        >>> median_bandwidth(torch.tensor([[0.0], [1.0], [3.0]]))  # distances 1, 3, 2
        2.0
    """
    x = feature_matrix(x, "points")[:max_points]
    d = torch.pdist(x)
    return float(d.median()) if len(d) else 1.0


def mmd_rbf(x: Tensor, y: Tensor, bandwidth: float | None = None) -> dict[str, float | int]:
    """Unbiased MMD^2 between samples x and y with k(a, b) = exp(-|a - b|^2 / (2 h^2)).

    `bandwidth` h defaults to the median pairwise distance of y (the target), so the number does
    not depend on the model being judged. Returns `mmd2` (can be slightly negative when x and y
    come from the same distribution), `bandwidth`, `n_x`, `n_y`. Uses O(N^2) memory: keep N at a
    few thousand.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> x, y = torch.randn(300, 2, generator=g), torch.randn(300, 2, generator=g)
        >>> round(mmd_rbf(x, y)["mmd2"], 3), round(mmd_rbf(x + 1, y)["mmd2"], 3)  # same law ~0; shifted > 0
        (-0.001, 0.23)
    """
    a, b = feature_matrix(x, "samples"), feature_matrix(y, "target samples")
    if len(a) < 2 or len(b) < 2:
        raise DataError("MMD needs at least 2 samples on each side")
    if a.shape[1] != b.shape[1]:
        raise DataError(f"samples have {a.shape[1]} dims but the target has {b.shape[1]}")
    h = median_bandwidth(b) if bandwidth is None else float(bandwidth)
    if not h > 0:
        raise ConfigError(f"MMD bandwidth must be positive, got {h}")
    g = -1.0 / (2 * h * h)
    m, n = len(a), len(b)
    kxx = (_sq_dists(a, a) * g).exp()
    kyy = (_sq_dists(b, b) * g).exp()
    kxy = (_sq_dists(a, b) * g).exp()
    mmd2 = ((kxx.sum() - m) / (m * (m - 1)) + (kyy.sum() - n) / (n * (n - 1))
            - 2 * kxy.mean())
    return {"mmd2": float(mmd2), "bandwidth": h, "n_x": m, "n_y": n}
