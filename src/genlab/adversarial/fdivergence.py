"""The eight f-divergences of f-GAN with their conjugates, output activations and fused forms.

D_f(P||Q) = E_q f(p/q) for convex f with f(1) = 0. The Fenchel conjugate g(t) = sup_u {t u - f(u)}
turns it into a variational bound that a critic T can maximise (Nowozin et al. 2016,
arXiv:1606.00709, eq. 4-6; https://kexue.fm/archives/6016):

    D_f(P||Q) = sup_T E_p[T(x)] - E_q[g(T(x))],   attained at T*(x) = f'(p(x)/q(x)).

A critic outputs an unconstrained v; the activation T(v) maps it into the conjugate's domain (the
range of f', or all of R for Pearson chi2, as in the paper) and the critic loss uses the *fused*
g(T(v)) written without overflow-prone compositions (e.g. softplus(v) rather than
-log(1 - sigmoid(v))). Entries are defined by f, not by name: the two chi-square rows are
named as in the f-GAN paper (the blog swaps the labels). Jensen-Shannon uses the scaling whose
D_f is exactly JSD(P, Q) = 1/2 KL(P||M) + 1/2 KL(Q||M) (half the paper's row).

Every activation is increasing in v, so the optimal raw score v*(x) = T^-1(f'(p/q)) grows with p/q
and the critic scores real data high for all eight rows: reverse KL uses the paper's -e^{-v}, and
the Neyman chi2 and squared Hellinger rows use 1 - e^{-v} (an earlier version used 1 - e^{v}, which
scores real data low).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from genlab.core.checks import choice

Fn = Callable[[Tensor], Tensor]
DivergenceName = Literal["total_variation", "kl", "reverse_kl", "pearson_chi2", "neyman_chi2",
                         "squared_hellinger", "jensen_shannon", "gan"]  # the keys of DIVERGENCES
LOG2 = math.log(2.0)


@dataclass(frozen=True)
class FDivergence:
    """One row of the f-GAN table.

    `f` generator function on u > 0; `f_prime` its derivative (the optimal critic is f'(p/q));
    `conjugate` g on `t_range` (open interval, except total variation's closed [-1/2, 1/2]);
    `activation` T(v): R -> t_range; `fused_conjugate` g(T(v)) in a stable form.
    """

    name: str
    f: Fn
    f_prime: Fn
    conjugate: Fn
    t_range: tuple[float, float]
    activation: Fn
    fused_conjugate: Fn

    def divergence(self, p: Tensor, q: Tensor) -> Tensor:
        """D_f(P||Q) = sum_x q(x) f(p(x)/q(x)) for discrete distributions with q > 0."""
        return (q * self.f(p / q)).sum()


def _js_f(u: Tensor) -> Tensor:
    return -(u + 1) / 2 * torch.log((1 + u) / 2) + torch.xlogy(u, u) / 2


DIVERGENCES: dict[str, FDivergence] = {d.name: d for d in (
    FDivergence(
        "total_variation",
        f=lambda u: 0.5 * (u - 1).abs(),
        f_prime=lambda u: 0.5 * torch.sign(u - 1),
        conjugate=lambda t: t,
        t_range=(-0.5, 0.5),
        activation=lambda v: 0.5 * torch.tanh(v),
        fused_conjugate=lambda v: 0.5 * torch.tanh(v),
    ),
    FDivergence(
        "kl",
        f=lambda u: torch.xlogy(u, u),
        f_prime=lambda u: torch.log(u) + 1,
        conjugate=lambda t: torch.exp(t - 1),
        t_range=(-math.inf, math.inf),
        activation=lambda v: v,
        fused_conjugate=lambda v: torch.exp(v - 1),
    ),
    FDivergence(
        "reverse_kl",
        f=lambda u: -torch.log(u),
        f_prime=lambda u: -1 / u,
        conjugate=lambda t: -1 - torch.log(-t),
        t_range=(-math.inf, 0.0),
        activation=lambda v: -torch.exp(-v),
        fused_conjugate=lambda v: v - 1,
    ),
    # D = int (p - q)^2 / q. The paper's linear activation, with f and g = t^2/4 + t taken on all of
    # R (g then bounds the conjugate over u > 0 from above, so the bound stays valid). The blog maps
    # onto f'(R+) = (-2, inf) with e^v - 2, whose g(T(v)) = e^{2v}/4 - 1 overflowed in toy runs.
    FDivergence(
        "pearson_chi2",
        f=lambda u: (u - 1).square(),
        f_prime=lambda u: 2 * (u - 1),
        conjugate=lambda t: t.square() / 4 + t,
        t_range=(-math.inf, math.inf),
        activation=lambda v: v,
        fused_conjugate=lambda v: v.square() / 4 + v,
    ),
    FDivergence(  # D = int (q - p)^2 / p
        "neyman_chi2",
        f=lambda u: (1 - u).square() / u,
        f_prime=lambda u: 1 - 1 / u.square(),
        conjugate=lambda t: 2 - 2 * torch.sqrt(1 - t),
        t_range=(-math.inf, 1.0),
        activation=lambda v: -torch.expm1(-v),
        fused_conjugate=lambda v: 2 - 2 * torch.exp(-v / 2),
    ),
    FDivergence(
        "squared_hellinger",
        f=lambda u: (torch.sqrt(u) - 1).square(),
        f_prime=lambda u: 1 - 1 / torch.sqrt(u),
        conjugate=lambda t: t / (1 - t),
        t_range=(-math.inf, 1.0),
        activation=lambda v: -torch.expm1(-v),
        fused_conjugate=lambda v: torch.expm1(v),
    ),
    FDivergence(
        "jensen_shannon",
        f=_js_f,
        f_prime=lambda u: 0.5 * torch.log(2 * u / (1 + u)),
        conjugate=lambda t: -0.5 * torch.log(2 - torch.exp(2 * t)),
        t_range=(-math.inf, LOG2 / 2),
        activation=lambda v: LOG2 / 2 - 0.5 * F.softplus(-v),
        fused_conjugate=lambda v: -LOG2 / 2 + 0.5 * F.softplus(v),
    ),
    FDivergence(  # the original GAN's divergence, 2 JSD - log 4
        "gan",
        f=lambda u: torch.xlogy(u, u) - torch.xlogy(u + 1, u + 1),
        f_prime=lambda u: torch.log(u / (u + 1)),
        conjugate=lambda t: -torch.log(-torch.expm1(t)),
        t_range=(-math.inf, 0.0),
        activation=lambda v: -F.softplus(-v),
        fused_conjugate=lambda v: F.softplus(v),
    ),
)}


def get_divergence(name: str) -> FDivergence:
    """The registered divergence `name`; ConfigError listing the valid names otherwise."""
    return DIVERGENCES[choice(name, DIVERGENCES, "f-divergence")]


__all__ = ["DIVERGENCES", "LOG2", "DivergenceName", "FDivergence", "get_divergence"]
