"""2-Wasserstein distance between two equal-size sample sets, exactly.

Between the empirical measures of x_1..x_n and y_1..y_n (uniform weights) an optimal transport plan
is a permutation, so W2 = sqrt(min_perm (1/n) sum_i |x_i - y_perm(i)|^2), an assignment problem
solved exactly (`genlab.core.assignment.optimal_pairing`). Tong et al. (2024, arXiv:2302.00482)
report it for 2-D flow-matching benchmarks.

It is the distance between two *samples*: two independent samples of the same distribution are
at a positive W2 that shrinks slowly with n (about n^(-1/2) up to logs in 2-D), so compare numbers
only at equal n (recorded beside each value).
"""

from __future__ import annotations

import math
from typing import Any

from torch import Tensor

from genlab.core.assignment import optimal_pairing
from genlab.core.checks import feature_matrix
from genlab.core.errors import DataError


def wasserstein2(x: Tensor, y: Tensor) -> dict[str, Any]:
    """`w2` between the empirical measures of x and y, (n, d) each, and `n`."""
    a, b = feature_matrix(x, "samples"), feature_matrix(y, "target samples")
    if a.shape != b.shape:
        raise DataError(f"W2 needs two sample sets of equal shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    _, sq = optimal_pairing(a, b)
    return {"w2": math.sqrt(float(sq.mean())), "n": len(a)}


__all__ = ["wasserstein2"]
