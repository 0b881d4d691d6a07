"""Minibatch optimal-transport pairing for OT-CFM (Tong et al. 2024, arXiv:2302.00482, sec. 3.2).

With equal batch sizes and uniform weights the exact OT plan on squared Euclidean cost is a
permutation (Birkhoff's theorem), found by an assignment solver: scipy's
`linear_sum_assignment`. torchcfm instead draws `batch` pairs with replacement from the plan
(`OTPlanSampler.sample_plan`), which repeats some pairs and drops others; here each source and each
data point is used exactly once.
"""

from __future__ import annotations

import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from genlab.core.errors import DataError


def pair_costs(x0: Tensor, x1: Tensor) -> Tensor:
    """Squared Euclidean distances between every flattened x0[i] and x1[j], (B0, B1), float64 CPU."""
    a = x0.detach().flatten(1).to("cpu", torch.float64)
    b = x1.detach().flatten(1).to("cpu", torch.float64)
    return (a.square().sum(1)[:, None] + b.square().sum(1)[None, :] - 2.0 * a @ b.T).clamp_min(0.0)


def ot_pairing(x0: Tensor, x1: Tensor) -> Tensor:
    """Indices j (B,) on x1's device such that pairs (x0[i], x1[j[i]]) minimise the summed squared
    distance over all permutations."""
    if x0.shape != x1.shape:
        raise DataError(f"OT pairing needs equal-size batches of equal shape, got {tuple(x0.shape)} "
                        f"and {tuple(x1.shape)}")
    rows, cols = linear_sum_assignment(pair_costs(x0, x1).numpy())
    # rows come back sorted 0..B-1 for a square matrix, so cols[i] is x0[i]'s partner
    return torch.as_tensor(cols, dtype=torch.long, device=x1.device)


__all__ = ["ot_pairing", "pair_costs"]
