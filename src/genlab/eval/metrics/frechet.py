"""Fréchet distance between Gaussians fitted to two feature sets.

FD = |mu_1 - mu_2|^2 + Tr(S_1) + Tr(S_2) - 2 Tr((S_1 S_2)^{1/2}) is the distance Heusel et al. 2017
("GANs trained by a two time-scale update rule converge to a local Nash equilibrium") computed in
Inception-v3 features and called FID. genlab computes it in the features of its own small
classifiers, so its numbers are named after that network (e.g. `fd_fashion`) and are comparable only
with numbers from the same network (same SHA-256), at the same sample sizes: the estimate is biased
upwards roughly in proportion to 1/N.

The trace term uses only a Cholesky factor and a symmetric eigenvalue solve (Tr((S_1 S_2)^{1/2}) is
the sum of square roots of the eigenvalues of L^T S_2 L, S_1 = L L^T), in float64, so it never
returns complex or NaN values, unlike `scipy.linalg.sqrtm` of the non-symmetric product.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor

from genlab.core.checks import check_finite_via, feature_matrix
from genlab.core.errors import DataError


class FeatureStats:
    """Streaming float64 count, mean and scatter matrix of (N, d) feature batches.

    Batches are combined with the pairwise update of Chan, Golub & LeVeque (1979), which avoids the
    cancellation of the one-pass E[ff^T] - mu mu^T formula when features have large means. Two
    `FeatureStats` of disjoint sets can be merged; statistics can be saved and loaded.

    Example:
        >>> x = torch.randn(100, 3, generator=torch.Generator().manual_seed(0))
        >>> stats = FeatureStats.of(x[:60]).merge(FeatureStats.of(x[60:]))  # two batches, streamed
        >>> stats.n, torch.allclose(stats.cov, torch.cov(x.T).double())
        (100, True)
    """

    def __init__(self, dim: int):
        self.dim = int(dim)
        self.n = 0
        self.mean = torch.zeros(self.dim, dtype=torch.float64)
        self.scatter = torch.zeros(self.dim, self.dim, dtype=torch.float64)  # sum (f - mu)(f - mu)^T

    @classmethod
    def of(cls, features: Tensor) -> FeatureStats:
        """Statistics of one (N, d) feature tensor."""
        given = torch.as_tensor(features)
        f = feature_matrix(given, check_finite=False)  # checked below, through the mean
        stats = cls(f.shape[1])
        stats.n = len(f)
        stats.mean = f.mean(0)
        check_finite_via(stats.mean, f)
        # centred in place when feature_matrix made a copy (the caller's tensor is never changed)
        centred = f.sub_(stats.mean) if f.data_ptr() != given.data_ptr() else f - stats.mean
        stats.scatter = centred.T @ centred
        return stats

    def update(self, features: Tensor) -> FeatureStats:
        """Add a batch of features (N, d); returns self."""
        batch = FeatureStats.of(features)
        if batch.dim != self.dim:
            raise DataError(f"features have {batch.dim} dims, these statistics {self.dim}")
        return self.merge(batch)

    def merge(self, other: FeatureStats) -> FeatureStats:
        """Fold the statistics of another, disjoint set into these; returns self."""
        if other.dim != self.dim:
            raise DataError(f"cannot merge statistics of {other.dim}-d and {self.dim}-d features")
        if other.n == 0:
            return self
        n = self.n + other.n
        delta = other.mean - self.mean
        self.scatter = self.scatter + other.scatter + torch.outer(delta, delta) * (self.n * other.n / n)
        self.mean = self.mean + delta * (other.n / n)
        self.n = n
        return self

    @property
    def cov(self) -> Tensor:
        """Unbiased covariance (divides by N - 1)."""
        if self.n < 2:
            raise DataError(f"a covariance needs at least 2 samples, got {self.n}")
        return self.scatter / (self.n - 1)

    def save(self, path: str | Path, metadata: dict[str, str] | None = None) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {"mean": self.mean, "scatter": self.scatter, "n": torch.tensor([self.n])}
        save_file(tensors, str(path), metadata=metadata)
        return path

    @classmethod
    def load(cls, path: str | Path) -> FeatureStats:
        try:
            tensors = load_file(str(path))
            stats = cls(tensors["mean"].shape[0])
            stats.mean, stats.scatter = tensors["mean"].double(), tensors["scatter"].double()
            stats.n = int(tensors["n"][0])
        except (OSError, KeyError, ValueError) as err:
            raise DataError(f"cannot read feature statistics {path}: {err}") from None
        return stats



def _sqrt_psd(s: Tensor) -> Tensor:
    vals, vecs = torch.linalg.eigh(s)
    return (vecs * vals.clamp(min=0).sqrt()) @ vecs.T


def trace_sqrt_product(s1: Tensor, s2: Tensor) -> float:
    """Tr((S_1 S_2)^{1/2}) for PSD S_1, S_2: the sum of square roots of the eigenvalues of S_1 S_2.

    With S_1 = L L^T (Cholesky), S_1 S_2 is similar to the symmetric PSD L^T S_2 L, so one Cholesky
    factorisation and one symmetric eigenvalue solve suffice (several times cheaper than the general
    eigenvalues torchmetrics takes, and never complex). A singular S_1 (N <= d) has no Cholesky
    factor; then S_1^{1/2} S_2 S_1^{1/2} from S_1's eigendecomposition is used instead.

    Example:
        >>> trace_sqrt_product(torch.eye(3), 4 * torch.eye(3))  # Tr((4 I)^(1/2))
        6.0
    """
    s1, s2 = s1.double(), s2.double()
    chol, info = torch.linalg.cholesky_ex(s1)
    if int(info) == 0:
        m = chol.T @ s2 @ chol
    else:
        root = _sqrt_psd(s1)
        m = root @ s2 @ root
    lam = torch.linalg.eigvalsh((m + m.T) / 2)
    return float(lam.clamp(min=0).sqrt().sum())


def frechet_distance(mu1: Tensor, sigma1: Tensor, mu2: Tensor, sigma2: Tensor) -> float:
    """Fréchet (2-Wasserstein) distance between N(mu1, sigma1) and N(mu2, sigma2), clamped >= 0.

    Example:
        >>> frechet_distance(torch.zeros(2), torch.eye(2), torch.ones(2), 4 * torch.eye(2))  # 2 + 2 (2 - 1)^2
        4.0
    """
    mu1, mu2 = torch.as_tensor(mu1).double(), torch.as_tensor(mu2).double()
    s1, s2 = torch.as_tensor(sigma1).double(), torch.as_tensor(sigma2).double()
    d = mu1.shape[0]
    if mu2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise DataError(f"shape mismatch: means {tuple(mu1.shape)}, {tuple(mu2.shape)}; "
                        f"covariances {tuple(s1.shape)}, {tuple(s2.shape)}")
    for t in (mu1, mu2, s1, s2):
        if not torch.isfinite(t).all():
            raise DataError("Fréchet distance inputs contain NaN or inf values")
    fd = (mu1 - mu2).square().sum() + s1.trace() + s2.trace() - 2 * trace_sqrt_product(s1, s2)
    return max(float(fd), 0.0)


def frechet_distance_stats(a: FeatureStats, b: FeatureStats) -> float:
    """Fréchet distance between two feature sets' statistics; warns when N <= d (rank deficient).

    Example:
        >>> x = torch.randn(500, 2, generator=torch.Generator().manual_seed(0))
        >>> round(frechet_distance_stats(FeatureStats.of(x), FeatureStats.of(x)), 6)  # identical sets
        0.0
        >>> round(frechet_distance_stats(FeatureStats.of(x), FeatureStats.of(x + 1)), 6)  # mean shift (1, 1)
        2.0
    """
    for name, s in (("first", a), ("second", b)):
        if s.n < 2:
            raise DataError(f"Fréchet distance needs at least 2 samples per set; the {name} has {s.n}")
        if s.n <= s.dim:
            warnings.warn(f"Fréchet distance with N={s.n} <= d={s.dim} features: the covariance is "
                          "rank deficient and the value strongly biased; use N >= 10 d or KID",
                          stacklevel=2)
    return frechet_distance(a.mean, a.cov, b.mean, b.cov)


def frechet_distance_features(x: Tensor, y: Tensor) -> float:
    """Fréchet distance between two (N, d) feature tensors.

    Example:
        >>> x = torch.randn(500, 2, generator=torch.Generator().manual_seed(0))
        >>> scaled = frechet_distance_features(x, 3 * x)  # (3 - 1)^2 Tr(S), S the covariance of x
        >>> round(frechet_distance_features(x, x), 6), round(scaled / torch.cov(x.T).trace().item(), 4)
        (0.0, 4.0)
    """
    return frechet_distance_stats(FeatureStats.of(x), FeatureStats.of(y))
