"""Probabilities of argmax(logits + noise) for i.i.d. noise, by 1-D quadrature in log space.

https://kexue.fm/archives/9085: for i.i.d. noise with CDF Phi and density phi, category i wins with

    p_i = int phi(e) prod_{j != i} Phi(mu_i - mu_j + e) de
        = int_0^1 prod_{j != i} Phi(mu_i - mu_j + Phi^-1(t)) dt.

Any noise gives non-negative, normalised, order-preserving and shift-invariant probabilities;
Gumbel noise gives softmax exactly (the Gumbel-max trick), Gaussian noise the multinomial probit.
Integrating in t is quadrature in e with nodes at noise quantiles and weights 1/(K phi(e_k)), so
the winner's density cancels. A category far behind the leader only wins with noise beyond the
last quantile node, so we move its nodes by s_i (a fraction of its gap) and keep the winner's
density ratio phi(e_k + s_i) / phi(e_k) as the weight.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from genlab.distributions.logits import check_logits
from genlab.distributions.noise import resolve_noise

NODES = ("midpoint", "interior")
_BLOCK_ELEMENTS = 1 << 24  # cap on the (..., rows, n, K) block held at once


def quadrature_nodes(K: int, nodes: str = "midpoint", *, dtype: torch.dtype | None = None,
                     device: torch.device | str | None = None) -> Tensor:
    """K equal-weight nodes in (0, 1): "midpoint" (k - 1/2)/K, or the blog's "interior" k/(K + 1).

    The spec (checked numerically) finds "interior" biased low (Gaussian sum of p = 0.939 at K=10,
    0.9986 at K=1000) and "midpoint" far closer (0.980 at K=10, 0.99996 at K=1000).

    Example:
        >>> quadrature_nodes(4)
        tensor([0.1250, 0.3750, 0.6250, 0.8750])
        >>> quadrature_nodes(4, "interior")
        tensor([0.2000, 0.4000, 0.6000, 0.8000])
    """
    if isinstance(K, bool) or not isinstance(K, int) or K < 2:
        raise ValueError(f"K must be an integer >= 2, got {K!r}")
    k = torch.arange(1, K + 1, dtype=dtype, device=device)
    if nodes == "midpoint":
        return (k - 0.5) / K
    if nodes == "interior":
        return k / (K + 1)
    raise ValueError(f"nodes must be one of {NODES}, got {nodes!r}")


def noise_argmax_probs(logits: Tensor, noise: str | Any = "gaussian", K: int = 64, nodes: str = "midpoint",
                       log: bool = False, renormalize: bool = False,
                       gap_shift: float | None = None) -> Tensor:
    """P[argmax_j(logits_j + eps_j) = i] over the last axis, batched over leading axes.

    `noise`: "gaussian", "gumbel" or an object with `icdf` and `cdf`/`log_cdf` (e.g. a standard
    `torch.distributions.Laplace(0., 1.)`). Computes
    log p_i = logmeanexp_k [sum_{j != i} log Phi(mu_i - mu_j + e_ik) + log phi(e_ik) - log phi(u_k)]
    with u_k = Phi^-1(t_k) and e_ik = u_k + gap_shift * (max_j mu_j - mu_i). `gap_shift=0` is the
    spec's plain rule (Gumbel max error vs softmax 7.7e-3 at K=10 down to 8.6e-7 at K=1000, ~K^-2),
    but it loses all relative accuracy for categories far behind; None picks the law's own
    `gap_shift` (Gaussian 1/2, Gumbel 1, other objects 0). `renormalize` divides by the sum.
    Returns log-probabilities if `log`. Differentiable; memory O(n^2 K) per row, done in blocks.

    Example:
        >>> logits = torch.tensor([2.0, 1.0, 0.0])
        >>> torch.allclose(noise_argmax_probs(logits, "gumbel", K=256), logits.softmax(-1), atol=1e-4)
        True
        >>> noise_argmax_probs(logits, "gaussian").round(decimals=3)  # probit (MC: .729 .224 .047)
        tensor([0.7290, 0.2240, 0.0470])
    """
    check_logits(logits)
    law = resolve_noise(noise)
    gap_shift = law.gap_shift if gap_shift is None else gap_shift
    if not (isinstance(gap_shift, (int, float)) and 0 <= gap_shift < float("inf")):
        raise ValueError(f"gap_shift must be a finite number >= 0, got {gap_shift!r}")
    u = law.icdf(quadrature_nodes(K, nodes, dtype=logits.dtype, device=logits.device))  # (K,)
    n = logits.shape[-1]
    e = u + gap_shift * (logits.amax(dim=-1, keepdim=True) - logits)[..., None]  # (..., n, K)
    log_weight = law.log_prob(e) - law.log_prob(u) if gap_shift else torch.zeros_like(e)
    others = ~torch.eye(n, dtype=torch.bool, device=logits.device)
    zero = torch.zeros((), dtype=logits.dtype, device=logits.device)
    block = max(1, _BLOCK_ELEMENTS // max(1, logits[..., 0].numel() * n * K))
    parts = []
    for rows in torch.arange(n, device=logits.device).split(block):
        diff = logits[..., rows, None] - logits[..., None, :]  # (..., rows, n)
        log_cdf = law.log_cdf(diff[..., None] + e[..., rows, None, :])  # (..., rows, n, K)
        # The j = i factor is the winner's own Phi, absorbed by the change of variables: drop it.
        log_cdf = torch.where(others[rows, :, None], log_cdf, zero)
        parts.append(torch.logsumexp(log_cdf.sum(dim=-2) + log_weight[..., rows, :], dim=-1) - math.log(K))
    log_p = torch.cat(parts, dim=-1)
    if renormalize:
        log_p = log_p - torch.logsumexp(log_p, dim=-1, keepdim=True)
    return log_p if log else log_p.exp()
