"""Probabilities of argmax(logits + noise) for i.i.d. noise, by 1-D quadrature in log space.

https://kexue.fm/archives/9085: for i.i.d. noise with CDF Phi and density phi, category i wins with

    p_i = int phi(e) prod_{j != i} Phi(mu_i - mu_j + e) de
        = int_0^1 prod_{j != i} Phi(mu_i - mu_j + Phi^-1(t)) dt.

Any noise gives non-negative, normalised, order-preserving and shift-invariant probabilities;
Gumbel noise gives softmax exactly (the Gumbel-max trick), Gaussian noise the multinomial probit.
Integrating in t is quadrature in e with nodes at noise quantiles, so the winner's density cancels.

The t-integrand is not smooth at the ends: for Gumbel noise it is exactly t^(1/p_i - 1), whose
derivative is unbounded at t = 0 when p_i > 1/2, so equal-weight rules (the blog's k/(K + 1), or
midpoints) converge only at order K^-(1/p_i), first order for a dominant category. The default
"graded" rule substitutes t = s^3 / (s^3 + (1 - s)^3) and takes midpoints in s: the Jacobian
vanishes to second order at both ends, which makes the integrand smooth (a standard sigmoidal
transformation for endpoint singularities; Sidi, "A new variable transformation for numerical
integration", 1993). A category far behind the leader only wins with noise beyond the last node, so
we also move its nodes by s_i (a fraction of its gap) and keep the winner's density ratio
phi(e_k + s_i) / phi(e_k) as the weight.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from genlab.distributions.logits import check_logits
from genlab.distributions.noise import resolve_noise

NODES = ("graded", "midpoint", "interior")
_GRADE = 3  # power of the sigmoidal substitution: its Jacobian vanishes like s^2 at both ends
_BLOCK_ELEMENTS = 1 << 24  # cap on the (..., rows, n, K) block held at once


def quadrature_rule(K: int, nodes: str = "graded", *, dtype: torch.dtype | None = None,
                    device: torch.device | str | None = None) -> tuple[Tensor, Tensor]:
    """K nodes t_k in (0, 1) and their log-weights (the weights sum to 1) for integrals over (0, 1).

    "graded": t = g(s) = s^3 / (s^3 + (1 - s)^3) at midpoints s = (k - 1/2)/K, weights g'(s_k)
    normalised; "midpoint": (k - 1/2)/K; "interior": the blog's k/(K + 1) (both equal weights). The
    spec (checked numerically) finds "interior" biased low on Gaussian noise (sum of p = 0.939 at K=10,
    0.9986 at K=1000) and "midpoint" closer (0.980, 0.99996); "graded" converges fastest.

    Example:
        >>> t, log_w = quadrature_rule(1000)
        >>> round(float((log_w.exp() * 4 * t**3).sum()), 10)  # int_0^1 4 t^3 dt
        1.0
        >>> quadrature_rule(4, "midpoint")[0]
        tensor([0.1250, 0.3750, 0.6250, 0.8750])
    """
    if isinstance(K, bool) or not isinstance(K, int) or K < 2:
        raise ValueError(f"K must be an integer >= 2, got {K!r}")
    if nodes not in NODES:
        raise ValueError(f"nodes must be one of {NODES}, got {nodes!r}")
    # float64 throughout: in float32 the graded nodes nearest 1 would round to 1 (an infinite quantile)
    k = torch.arange(1, K + 1, dtype=torch.float64, device=device)
    if nodes == "interior":
        t = k / (K + 1)
    else:
        t = (k - 0.5) / K
    log_w = torch.full_like(t, -math.log(K))
    if nodes == "graded":
        s, q = t, _GRADE
        a, b = s.pow(q), (1 - s).pow(q)
        t = a / (a + b)
        log_w = (q - 1) * (s.log() + (1 - s).log()) - 2 * (a + b).log()  # log g'(s) + const
        log_w = log_w - torch.logsumexp(log_w, 0)
    dtype = dtype or torch.get_default_dtype()
    return t.to(dtype), log_w.to(dtype)


def noise_argmax_probs(logits: Tensor, noise: str | Any = "gaussian", K: int = 64, nodes: str = "graded",
                       log: bool = False, renormalize: bool = False,
                       gap_shift: float | None = None) -> Tensor:
    """P[argmax_j(logits_j + eps_j) = i] over the last axis, batched over leading axes.

    `noise`: "gaussian", "gumbel" or an object with `icdf` and `cdf`/`log_cdf` (e.g. a standard
    `torch.distributions.Laplace(0., 1.)`). Computes
    log p_i = logsumexp_k [sum_{j != i} log Phi(mu_i - mu_j + e_ik) + log phi(e_ik) - log phi(u_k) + log w_k]
    with (t_k, w_k) = `quadrature_rule(K, nodes)`, u_k = Phi^-1(t_k) and
    e_ik = u_k + gap_shift * (max_j mu_j - mu_i); None picks the law's own `gap_shift` (Gaussian 1/2,
    Gumbel 1, other objects 0), 0 is the blog's plain rule, which loses all relative accuracy for
    categories far behind. Accuracy (max |p - softmax| for Gumbel noise on 8 random logits of scale 2,
    float64; `tests/distributions/test_noise_argmax.py`): the default graded rule ~3e-12 at K=1000, the
    error falling about 80x for each 4x more nodes (~K^-3); midpoints without shift ~1e-4 at K=1000 and
    only first order (4x per 4x nodes). `renormalize` divides by the sum. Returns log-probabilities if
    `log`. Differentiable; memory O(n^2 K) per row, done in blocks.

    Example:
        >>> mu = torch.tensor([1.0, 0.3, -0.5, 2.0], dtype=torch.float64)
        >>> bool((noise_argmax_probs(mu, "gumbel", K=256) - mu.softmax(-1)).abs().max() < 1e-8)
        True
        >>> probit = noise_argmax_probs(torch.tensor([2.0, 1.0, 0.0]), "gaussian")
        >>> probit.round(decimals=3)  # 2M Monte-Carlo draws: .729 .224 .047
        tensor([0.7290, 0.2240, 0.0470])
    """
    check_logits(logits)
    law = resolve_noise(noise)
    gap_shift = law.gap_shift if gap_shift is None else gap_shift
    if not (isinstance(gap_shift, (int, float)) and 0 <= gap_shift < float("inf")):
        raise ValueError(f"gap_shift must be a finite number >= 0, got {gap_shift!r}")
    t, log_w = quadrature_rule(K, nodes, dtype=torch.float64, device=logits.device)
    u, log_w = law.icdf(t).to(logits.dtype), log_w.to(logits.dtype)  # (K,): quantiles taken in float64
    n = logits.shape[-1]
    e = u + gap_shift * (logits.amax(dim=-1, keepdim=True) - logits)[..., None]  # (..., n, K)
    log_weight = law.log_prob(e) - law.log_prob(u) + log_w if gap_shift else log_w.expand_as(e)
    others = ~torch.eye(n, dtype=torch.bool, device=logits.device)
    zero = torch.zeros((), dtype=logits.dtype, device=logits.device)
    block = max(1, _BLOCK_ELEMENTS // max(1, logits[..., 0].numel() * n * K))
    parts = []
    for rows in torch.arange(n, device=logits.device).split(block):
        diff = logits[..., rows, None] - logits[..., None, :]  # (..., rows, n)
        log_cdf = law.log_cdf(diff[..., None] + e[..., rows, None, :])  # (..., rows, n, K)
        # The j = i factor is the winner's own Phi, absorbed by the change of variables: drop it.
        log_cdf = torch.where(others[rows, :, None], log_cdf, zero)
        parts.append(torch.logsumexp(log_cdf.sum(dim=-2) + log_weight[..., rows, :], dim=-1))
    log_p = torch.cat(parts, dim=-1)
    if renormalize:
        log_p = log_p - torch.logsumexp(log_p, dim=-1, keepdim=True)
    return log_p if log else log_p.exp()
