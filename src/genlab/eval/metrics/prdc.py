"""k-NN precision/recall (Kynkäänniemi et al. 2019) and density/coverage (Naeem et al. 2020).

Each sample's k-NN ball has radius equal to the distance to its k-th nearest neighbour within its
own set (itself excluded). Kynkäänniemi, Karras, Laine, Lehtinen & Aila 2019 ("Improved precision and
recall metric for assessing generative models") define precision as the share of fake samples inside
the union of real balls and recall as the share of real samples inside the union of fake balls
(k = 3). Naeem, Oh, Uh, Choi & Yoo 2020 ("Reliable fidelity and diversity metrics for generative
models") replace them with density, the mean number of real balls containing a fake sample divided
by k (it can exceed 1 and is robust to fake outliers), and coverage, the share of real balls that
contain at least one fake sample (k = 5; about 1 - 2^-k for identical distributions with M = N).

Distances are computed in row chunks with `torch.cdist` in float64, so 50k x 50k sets need only
memory for one chunk of the cross-distance matrix. Membership uses strict `<`, as the `prdc` package.
"""

from __future__ import annotations

import torch
from torch import Tensor

from genlab.core.checks import feature_matrix
from genlab.core.errors import ConfigError, DataError

CHUNK_ELEMENTS = 1 << 24  # float64 distances per chunk (128 MB)



def _rows(n_cols: int, chunk_elements: int) -> int:
    return max(1, chunk_elements // max(1, n_cols))


def knn_distances(x: Tensor, k: int, chunk_elements: int = CHUNK_ELEMENTS) -> Tensor:
    """(N, k) distances from each row of x to its 1st..k-th nearest other row (N > k).

    Example:
        >>> knn_distances(torch.tensor([[0.0], [1.0], [3.0], [6.0]]), k=2)
        tensor([[1., 3.],
                [1., 2.],
                [2., 3.],
                [3., 5.]])
    """
    if not 1 <= k < len(x):
        raise ConfigError(f"k-NN radius needs 1 <= k < N, got k={k}, N={len(x)}")
    step = _rows(len(x), chunk_elements)
    out = [torch.cdist(x[i : i + step], x).topk(k + 1, dim=1, largest=False, sorted=True).values[:, 1:]
           for i in range(0, len(x), step)]
    return torch.cat(out)


def knn_radii(x: Tensor, k: int, chunk_elements: int = CHUNK_ELEMENTS) -> Tensor:
    """Distance from each row of x to its k-th nearest other row (the k-NN ball radius).

    Example:
        >>> knn_radii(torch.tensor([[0.0], [1.0], [3.0], [6.0]]), k=2)
        tensor([3., 2., 3., 5.])
    """
    return knn_distances(x, k, chunk_elements)[:, k - 1]


def prdc(real: Tensor, fake: Tensor, k_pr: int = 3, k_dc: int = 5,
         chunk_elements: int = CHUNK_ELEMENTS) -> dict[str, float | int]:
    """Precision, recall (k = `k_pr`), density and coverage (k = `k_dc`) of fake vs real features.

    Returns those four numbers plus `k_pr`, `k_dc`, `n_real`, `n_fake`. Coverage depends on the
    number of fake samples: compare runs at equal M (preferably M = N).

    Example:
        >>> x = torch.randn(200, 2, generator=torch.Generator().manual_seed(0))
        >>> same, far = prdc(x, x), prdc(x, x + 100)
        >>> [same[k] for k in ("precision", "recall", "coverage")], [far[k] for k in ("precision", "recall")]
        ([1.0, 1.0, 1.0], [0.0, 0.0])
    """
    x, y = feature_matrix(real, "real features"), feature_matrix(fake, "fake features")
    if x.shape[1] != y.shape[1]:
        raise DataError(f"feature dims differ: {x.shape[1]} vs {y.shape[1]}")
    if min(k_pr, k_dc) < 1:
        raise ConfigError(f"k must be >= 1, got k_pr={k_pr}, k_dc={k_dc}")
    real_knn = knn_distances(x, max(k_pr, k_dc), chunk_elements)
    r_real_pr, r_real_dc = real_knn[:, k_pr - 1], real_knn[:, k_dc - 1]
    r_fake_pr = knn_radii(y, k_pr, chunk_elements)
    in_precision = 0
    density_hits = 0.0
    recalled = torch.zeros(len(x), dtype=torch.bool)
    nearest_fake = torch.full((len(x),), float("inf"), dtype=torch.float64)
    step = _rows(len(x), chunk_elements)
    for j in range(0, len(y), step):
        d = torch.cdist(y[j : j + step], x)  # (fake chunk, real)
        in_precision += int((d < r_real_pr).any(dim=1).sum())
        density_hits += float((d < r_real_dc).sum())
        recalled |= (d < r_fake_pr[j : j + step, None]).any(dim=0)
        nearest_fake = torch.minimum(nearest_fake, d.min(dim=0).values)
    return {
        "precision": in_precision / len(y),
        "recall": float(recalled.double().mean()),
        "density": density_hits / (k_dc * len(y)),
        "coverage": float((nearest_fake < r_real_dc).double().mean()),
        "k_pr": k_pr, "k_dc": k_dc, "n_real": len(x), "n_fake": len(y),
    }
