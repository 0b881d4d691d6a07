"""Likelihood metrics shared by every family: importance sampling and bits/dim."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from genlab.data.pixels import Pixels


def importance_sampled_log_likelihood(
    log_weights: Callable[[Tensor, int], Tensor], x: Tensor, k: int, chunk: int = 100
) -> Tensor:
    """log (1/K) sum_k w_k for the whole batch at once, in chunks of K to bound memory.

    `log_weights(x, m)` returns (m, B) log importance weights log p(x, z) - log q(z | x) for m fresh
    proposals per example. K = 1 gives the single-sample ELBO; the estimate increases towards
    log p(x) as K grows (Burda et al., IWAE, arXiv:1509.00519, Thm. 1). Accumulates in float64.
    """
    if k < 1:
        raise ValueError(f"need at least one importance sample, got k={k}")
    total = torch.full((x.shape[0],), -math.inf, dtype=torch.float64, device=x.device)
    done = 0
    while done < k:
        m = min(chunk, k - done)
        lw = log_weights(x, m).double()
        total = torch.logaddexp(total, torch.logsumexp(lw, dim=0))
        done += m
    return total - math.log(k)


def bits_per_dim(log_p: Tensor, x: Tensor, pixels: Pixels | None) -> Tensor:
    """Per-example bits/dim from a model's log-density of its inputs x (nats).

    For images the data transform's correction is added first (`Pixels.log_jacobian`: the
    dequantization's -D log L and the Jacobian of any scaling or logit), counted exactly once here.
    For continuous vector data (2-D toys) this is plain -log p / (D ln 2). Computed in float64
    (returned in log_p's dtype), so a uniform density on 8-bit data gives exactly 8 bits/dim
    (Theis et al. 2016).
    """
    dims = x[0].numel()
    out = log_p.double()
    if pixels is not None:
        out = out + pixels.log_jacobian(x.double())
    return (-out / (dims * math.log(2.0))).to(log_p.dtype)
