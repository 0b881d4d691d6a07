"""EM routing between matrix capsules (Hinton, Sabour & Frosst, ICLR 2018, Procedure 1;
https://kexue.fm/archives/5155).

Each upper capsule j is one component of a diagonal-Gaussian mixture over the votes V_ij it receives;
the lower activations a_i weigh the points and the upper activations a_j stand in for the mixing weights
(not normalised over j on purpose: each a_j is a separate "is this entity present" decision). Per iteration:

    M-step  r_ij = a_i R_ij / sum_i a_i R_ij,   mu_j = sum_i r_ij V_ij,   var_j = sum_i r_ij (V_ij - mu_j)^2
            cost_j = (beta_u + sum_h ln sigma_j^h) * sum_i a_i R_ij,   a_j = sigmoid(lambda (beta_a - cost_j))
    E-step  R_ij = a_j N(V_ij; mu_j, var_j) / sum_k a_k N(V_ij; mu_k, var_k)

The cost is (up to constants) the entropy of cluster j's Gaussian times the mass it claims, so tight and
well-supported clusters switch on. The inverse temperature lambda rises over the iterations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import Tensor

from genlab.core.checks import check_int, check_range, choice

CostNorm = Literal["standardise", "none"]  # see em_routing
COST_NORMS: tuple[str, ...] = get_args(CostNorm)


def inverse_temperatures(iterations: int, lam_min: float, lam_max: float) -> list[float]:
    """The lambda of each iteration: a linear ramp from lam_min to lam_max (the paper only says the
    schedule is fixed and increasing; this ramp is a common reading)."""
    check_int("iterations", iterations, 1)
    check_range("lam_min", lam_min, 0.0, low_open=True)
    check_range("lam_max", lam_max, lam_min)
    if iterations == 1:
        return [lam_max]
    return [lam_min + (lam_max - lam_min) * t / (iterations - 1) for t in range(iterations)]


@dataclass
class Routed:
    """Output of `em_routing`: upper poses (flattened 4x4), activations, and the final assignments."""

    pose: Tensor  # (..., n_out, d) = mu_j
    activation: Tensor  # (..., n_out) in (0, 1)
    assignment: Tensor  # (..., n_in, n_out) = R_ij of the last M-step; rows sum to 1


def em_routing(votes: Tensor, a_in: Tensor, beta_u: Tensor, beta_a: Tensor, iterations: int = 3,
               lam_min: float = 0.25, lam_max: float = 1.0, cost_norm: CostNorm = "standardise",
               eps: float = 1e-6) -> Routed:
    """Route `votes` (..., n_in, n_out, d) of inputs with activations `a_in` (..., n_in) to n_out capsules.

    `beta_u`, `beta_a` broadcast against (..., n_out). With `cost_norm="none"` the cost is the formula
    above. With "standardise" ([added], not in the paper; a fix several public implementations use) each
    cost_j is replaced by (cost_j - mean_k cost_k) / std_k cost_k over the layer's n_out capsules: the raw
    cost grows with the fan-in and with 16 log-sigmas, so the sigmoid saturates and training stalls (on
    digits the raw cost stayed at chance where the standardised one learned). Variances are clamped below
    by eps; the E-step runs in log space. Gradients flow through every iteration.
    """
    choice(cost_norm, COST_NORMS, "cost_norm")  # for direct callers; configs check their Literal
    if votes.ndim < 3 or a_in.shape != votes.shape[:-2]:
        raise ValueError(f"votes must be (..., n_in, n_out, d) and a_in (..., n_in); got "
                         f"{tuple(votes.shape)} and {tuple(a_in.shape)}")
    n_out, d = votes.shape[-2], votes.shape[-1]
    lams = inverse_temperatures(iterations, lam_min, lam_max)
    # Every sum over inputs i or pose entries h is a batched matmul over (..., j): the elementwise form
    # would materialise several (..., n_in, n_out, d) temporaries per iteration.
    v = votes.transpose(-3, -2).contiguous()  # (..., n_out, n_in, d)
    v2 = v.square()
    a = a_in.unsqueeze(-1)  # (..., n_in, 1)
    R = votes.new_full(votes.shape[:-1], 1.0 / n_out)  # (..., n_in, n_out)
    for it, lam in enumerate(lams):
        # M-step: weighted moments of the votes each upper capsule claims
        Ra = R * a
        mass = Ra.sum(-2)  # (..., n_out): sum_i a_i R_ij
        r = (Ra / (mass.unsqueeze(-2) + eps)).transpose(-1, -2).unsqueeze(-2)  # (..., n_out, 1, n_in)
        mu = (r @ v).squeeze(-2)  # (..., n_out, d)
        # E_r[V^2] - mu^2 (r sums to 1 over i); the clamp also absorbs float round-off
        var = ((r @ v2).squeeze(-2) - mu.square()).clamp_min(eps)
        log_sigma = 0.5 * var.log()
        cost = (beta_u + log_sigma.sum(-1)) * mass
        if cost_norm == "standardise":  # [added]: compare each cost with the other capsules' of the layer
            centred = cost - cost.mean(-1, keepdim=True)
            cost = centred / (centred.square().mean(-1, keepdim=True).sqrt() + eps)
        logits = lam * (beta_a - cost)
        if it == len(lams) - 1:
            return Routed(mu, torch.sigmoid(logits), R)
        # E-step: log N(V_ij; mu_j, var_j) = -1/2 sum_h (V^2 - 2 V mu + mu^2) / var - sum_h ln sigma - const,
        # then responsibilities a_j N(...) normalised over j, in log space
        inv = var.reciprocal()
        quad = (v2 @ inv.unsqueeze(-1) - 2 * v @ (mu * inv).unsqueeze(-1)).squeeze(-1) \
            + (mu.square() * inv).sum(-1, keepdim=True)  # (..., n_out, n_in)
        log_p = -0.5 * quad - (log_sigma.sum(-1) + 0.5 * d * math.log(2 * math.pi)).unsqueeze(-1)
        R = torch.softmax(F.logsigmoid(logits).unsqueeze(-2) + log_p.transpose(-1, -2), dim=-1)
    raise AssertionError("unreachable: iterations >= 1")
