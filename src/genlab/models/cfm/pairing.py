"""Minibatch optimal-transport pairing for OT-CFM (Tong et al. 2024, arXiv:2302.00482, sec. 3.2).

With equal batch sizes and uniform weights the exact OT plan on squared Euclidean cost is a
permutation (Birkhoff's theorem), found by the assignment solver shared with the W2 metric
(`genlab.core.assignment.optimal_pairing`, scipy's `linear_sum_assignment`). torchcfm instead draws
`batch` pairs with replacement from POT's exact plan (`OTPlanSampler.sample_plan`), which repeats
some pairs and drops others; here every source and every data point is used exactly once.
"""

from __future__ import annotations

from torch import Tensor

from genlab.core.assignment import optimal_pairing


def ot_pairing(x0: Tensor, x1: Tensor) -> Tensor:
    """Indices j (B,) on x0's device such that the pairs (x0[i], x1[j[i]]) minimise the summed
    squared distance over all permutations (examples flattened; a DataError for unequal shapes)."""
    return optimal_pairing(x0, x1)[0]


__all__ = ["ot_pairing"]
