"""The variational bound on -log p(x_0) of a DDPM (Ho et al. 2020, arXiv:2006.11239, eq. 5).

    -log p_θ(x_0) <= E_q[ L_T + Σ_{t=2}^{T} L_{t-1} + L_0 ]
    L_T     = KL(q(x_T | x_0) ‖ N(0, I))                       (closed form, no parameters)
    L_{t-1} = KL(q(x_{t-1} | x_t, x_0) ‖ p_θ(x_{t-1} | x_t))   (two Gaussians, closed form)
    L_0     = -log p_θ(x_0 | x_1),  p_θ(x_0 | x_1) = N(μ_θ(x_1, 1), σ_1² I)

q(x_{t-1} | x_t, x_0) = N(μ̃_t, β̃_t I) (eq. 6-7); p_θ(x_{t-1} | x_t) = N(μ_θ, σ_t² I) with
μ_θ = μ̃_t(x_t, x̂_0) (eq. 11 through x̂_0) and σ_t² = β_t ("beta") or β̃_t ("posterior"). At t = 1
β̃_1 = 0, so the "posterior" decoder variance is β̃_2 there, as in improved-diffusion's clipped
log-variance (Nichol & Dhariwal 2021, arXiv:2102.09672); "beta" uses β_1. L_0 is a Gaussian
density of the (dequantized, continuous) model input, so the bound goes through the same
`bits_per_dim` path as every other likelihood; Ho et al.'s discretized decoder (eq. 13) is the
8-bit alternative, not implemented here.

Estimator: one draw x_t ~ q(x_t | x_0) per term (independent across t) gives an unbiased estimate of
the bound. `terms=None` sums all T - 1 KL terms (T - 1 network evaluations per example, plus one
for L_0); `terms=K` samples K of the steps 2..T uniformly without replacement (the same K for the
whole batch) and scales their sum by (T - 1)/K, still unbiased for the full bound. L_T and L_0 are
always computed.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from genlab.models.diffusion.samplers import Denoiser, VarianceKind
from genlab.models.diffusion.schedules import NoiseSchedule


def _sum(x: Tensor) -> Tensor:
    return x.flatten(1).sum(1)


def prior_term(x0: Tensor, schedule: NoiseSchedule) -> Tensor:
    """L_T = KL(N(√ᾱ_T x_0, (1 - ᾱ_T) I) ‖ N(0, I)) per example (nats)."""
    ab = schedule.alpha_bar[-1].item()
    return 0.5 * _sum(ab * x0.double() ** 2 + (1 - ab) - 1 - math.log(1 - ab))


def decoder_variance(schedule: NoiseSchedule, variance: VarianceKind) -> Tensor:
    """σ_t² of p_θ(x_{t-1} | x_t) for t = 1..T (float64), with β̃_1 replaced by β̃_2 (see above)."""
    if variance == "beta":
        return schedule.betas
    post = schedule.posterior_variance.clone()
    if len(post) > 1:
        post[0] = post[1]
    else:  # a single step: β̃_2 does not exist; fall back to β_1
        post[0] = schedule.betas[0]
    return post


def kl_terms(denoise: Denoiser, x0: Tensor, t: Tensor, schedule: NoiseSchedule, var: Tensor) -> Tensor:
    """L_{t-1} for each row: x0 (N, ...), t (N,) integer steps in 2..T; fresh x_t ~ q(x_t | x_0)."""
    ab = schedule.at("alpha_bar", t, x0)
    x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * torch.randn_like(x0)
    _, x0_hat = denoise(x_t, t)
    # μ̃(x_t, x_0) - μ_θ = c0 (x_0 - x̂_0): the x_t parts cancel (Ho et al. eq. 7)
    c0 = (schedule.alpha_bar_prev[t - 1].sqrt() * schedule.betas[t - 1] / (1 - schedule.alpha_bar[t - 1]))
    post, sig2 = schedule.posterior_variance[t - 1], var[t - 1]
    d = x0[0].numel()
    sq = _sum((x0 - x0_hat).double() ** 2)
    return 0.5 * (d * (torch.log(sig2 / post) + post / sig2 - 1) + c0**2 * sq / sig2)


def decoder_term(denoise: Denoiser, x0: Tensor, schedule: NoiseSchedule, var: Tensor) -> Tensor:
    """L_0 = -log N(x_0; μ_θ(x_1, 1), σ_1² I) per example; μ_θ(x_1, 1) = x̂_0 since ᾱ_0 = 1."""
    t = torch.ones(len(x0), dtype=torch.long, device=x0.device)
    ab = schedule.at("alpha_bar", t, x0)
    x1 = ab.sqrt() * x0 + (1 - ab).sqrt() * torch.randn_like(x0)
    _, x0_hat = denoise(x1, t)
    sig2 = var[0].item()
    d = x0[0].numel()
    return 0.5 * (_sum((x0 - x0_hat).double() ** 2) / sig2 + d * math.log(2 * math.pi * sig2))


@torch.no_grad()
def variational_bound(denoise: Denoiser, x0: Tensor, schedule: NoiseSchedule, variance: VarianceKind,
                      terms: int | None = None, chunk_rows: int = 8192) -> tuple[Tensor, int]:
    """(per-example estimate of the bound on -log p(x_0), nats, float64; KL terms summed).

    `terms`: None for all T - 1 terms, else that many sampled (see the module docstring);
    `chunk_rows`: examples x terms evaluated per network call.
    """
    T = schedule.timesteps
    var = decoder_variance(schedule, variance)
    total = prior_term(x0, schedule) + decoder_term(denoise, x0, schedule, var)
    steps = torch.arange(2, T + 1, device=x0.device)
    if terms is not None and terms < T - 1:
        pick = torch.randperm(T - 1)[:terms].to(x0.device)
        steps, scale = steps[pick], (T - 1) / terms
    else:
        scale = 1.0
    b = len(x0)
    per_call = max(1, chunk_rows // max(b, 1))
    kl = torch.zeros(b, dtype=torch.float64, device=x0.device)
    for start in range(0, len(steps), per_call):
        ts = steps[start:start + per_call]
        rows = x0.unsqueeze(0).expand(len(ts), *x0.shape).reshape(len(ts) * b, *x0.shape[1:])
        t = ts.repeat_interleave(b)
        kl += kl_terms(denoise, rows, t, schedule, var).view(len(ts), b).sum(0)
    return total + scale * kl, len(steps)


__all__ = ["decoder_term", "decoder_variance", "kl_terms", "prior_term", "variational_bound"]
