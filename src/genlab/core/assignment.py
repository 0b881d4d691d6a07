"""Exact optimal pairing of two equal-size point sets under squared Euclidean cost.

An assignment problem (Kuhn 1955; scipy's `linear_sum_assignment`, Crouse 2016): shared by the
2-Wasserstein metric (`genlab.eval.metrics.wasserstein`) and by minibatch optimal-transport pairing
(OT-CFM, Tong et al. 2024, arXiv:2302.00482), which with equal batch sizes and uniform weights is the
same problem (an optimal plan of the Kantorovich LP is then a permutation; Birkhoff's theorem).
"""

from __future__ import annotations

import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from genlab.core.errors import DataError


def optimal_pairing(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """(perm, sq_dists): the permutation minimising sum_i |x_i - y_perm[i]|^2 over all permutations,
    and those squared distances (N,). x, y: (N, ...) on any device; flattened per example; the
    cost is computed in float64 on the CPU (O(N^2) memory, O(N^3) time: N up to a few thousand).
    `perm` lives on x's device."""
    if x.shape != y.shape or x.ndim < 2 or not len(x):
        raise DataError(f"optimal pairing needs two non-empty (N, ...) sets of equal shape, "
                        f"got {tuple(x.shape)} and {tuple(y.shape)}")
    a = x.detach().flatten(1).to("cpu", torch.float64)
    b = y.detach().flatten(1).to("cpu", torch.float64)
    cost = torch.cdist(a, b).square()
    if not bool(torch.isfinite(cost).all()):
        raise DataError("optimal pairing: the points contain NaN or inf values")
    _, cols = linear_sum_assignment(cost.numpy())
    perm = torch.from_numpy(cols).long()
    return perm.to(x.device), cost[torch.arange(len(a)), perm]


__all__ = ["optimal_pairing"]
