"""Reverse-process samplers: DDPM ancestral sampling and DDIM, on a sub-sequence of steps.

A `Denoiser` maps (x_t, t) — t a (B,) tensor of integer steps in 1..T — to the model's
(ε̂, x̂_0) at x_t (`genlab.models.diffusion.prediction` converts any network output to both).

Both samplers walk a decreasing sequence τ_S > ... > τ_1 of steps and use only the pairs
(ᾱ_{τ_i}, ᾱ_{τ_{i-1}}), with ᾱ = 1 before the first step. `timesteps(T, S)` is the evenly spaced
("leading") sequence τ_i = 1 + (i - 1)·⌊T/S⌋ of DDIM's official code and diffusers, so S = T gives
every step.

* DDPM (Ho et al. 2020, arXiv:2006.11239, Algorithm 2; eq. 11 written through x̂_0 as the posterior
  mean of eq. 7): x_{t-1} = μ̃(x_t, x̂_0) + σ_t z, with α_t = ᾱ_t/ᾱ_{t-1}, β_t = 1 - α_t,
  σ_t² = β_t ("beta") or β̃_t = β_t (1 - ᾱ_{t-1})/(1 - ᾱ_t) ("posterior"); no noise at the last
  step. On a sub-sequence this is the respaced DDPM of Nichol & Dhariwal (arXiv:2102.09672, sec. 4).
* DDIM (Song, Meng & Ermon 2021, arXiv:2010.02502, eq. 12 and 16): x_{τ_{i-1}} = √ᾱ_{i-1} x̂_0
  + √(1 - ᾱ_{i-1} - σ_i²) ε̂ + σ_i z, σ_i = η √((1 - ᾱ_{i-1})/(1 - ᾱ_i)) √(1 - ᾱ_i/ᾱ_{i-1});
  η = 0 is deterministic.

`clip` (e.g. 1.0 for images in [-1, 1]) clamps x̂_0 before it is used, as DDPM's official sampler
does; DDIM then recomputes ε̂ from the clamped x̂_0 (improved-diffusion's `ddim_sample`).
Randomness: torch's global generator, drawn in the order diffusers' scheduler loops draw it (DDPM:
no draw at the last step; DDIM: one draw per step when η > 0, none when η = 0).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor

from genlab.core.checks import check_int, check_range
from genlab.core.errors import ConfigError
from genlab.models.diffusion.prediction import eps_from_x0
from genlab.models.diffusion.schedules import NoiseSchedule

SamplerKind = Literal["ddpm", "ddim"]
VarianceKind = Literal["beta", "posterior"]
Denoiser = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]


def timesteps(total: int, steps: int) -> list[int]:
    """The S evenly spaced steps τ_S > ... > τ_1 = 1 (1-based) with stride ⌊T/S⌋."""
    check_int("sampling steps", steps, 1)
    if steps > total:
        raise ConfigError(f"sampling steps must be at most the {total} diffusion steps, got {steps}")
    stride = total // steps
    return [1 + i * stride for i in reversed(range(steps))]


def _pairs(schedule: NoiseSchedule, steps: int) -> list[tuple[int, float, float]]:
    """(t, ᾱ_t, ᾱ_prev) along the sequence, ᾱ_prev = 1 before the first step (float64 numbers)."""
    seq = timesteps(schedule.timesteps, steps)
    stride = schedule.timesteps // steps
    ab = schedule.alpha_bar.double().cpu()
    return [(t, float(ab[t - 1]), float(ab[t - 1 - stride]) if t - stride >= 1 else 1.0) for t in seq]


def _denoise(denoise: Denoiser, x: Tensor, t: int, clip: float | None) -> tuple[Tensor, Tensor]:
    eps, x0 = denoise(x, torch.full((len(x),), t, device=x.device, dtype=torch.long))
    if clip is not None:
        x0 = x0.clamp(-clip, clip)
    return eps, x0


def ddpm_step(x: Tensor, x0: Tensor, ab: float, ab_prev: float, variance: VarianceKind,
              last: bool) -> Tensor:
    """One ancestral step x_t -> x_{t-1} from x̂_0 (noise from the global generator unless `last`)."""
    alpha = ab / ab_prev
    beta = 1.0 - alpha
    # posterior mean μ̃_t (Ho et al. eq. 7), coefficients in float64 before the cast
    c0 = ab_prev**0.5 * beta / (1.0 - ab)
    ct = alpha**0.5 * (1.0 - ab_prev) / (1.0 - ab)
    mean = c0 * x0 + ct * x
    if last:
        return mean
    var = beta if variance == "beta" else max(beta * (1.0 - ab_prev) / (1.0 - ab), 1e-20)
    return mean + var**0.5 * torch.randn_like(x)


def ddim_step(x: Tensor, eps: Tensor, x0: Tensor, ab: float, ab_prev: float, eta: float) -> Tensor:
    """One DDIM step x_{τ_i} -> x_{τ_{i-1}} (Song et al. eq. 12)."""
    sigma = eta * ((1.0 - ab_prev) / (1.0 - ab) * (1.0 - ab / ab_prev)) ** 0.5
    out = ab_prev**0.5 * x0 + max(1.0 - ab_prev - sigma**2, 0.0) ** 0.5 * eps
    if eta > 0:
        out = out + sigma * torch.randn_like(x)
    return out


@torch.no_grad()
def sample_ddpm(denoise: Denoiser, x: Tensor, schedule: NoiseSchedule, steps: int | None = None,
                variance: VarianceKind = "beta", clip: float | None = None,
                trajectory: list[Tensor] | None = None) -> tuple[Tensor, int]:
    """Ancestral sampling from x = x_T; returns (x_0, NFE). `trajectory` collects every x_{t-1}."""
    if variance not in ("beta", "posterior"):
        raise ConfigError(f"unknown model.variance {variance!r}; choose one of: beta, posterior")
    pairs = _pairs(schedule, steps or schedule.timesteps)
    for i, (t, ab, ab_prev) in enumerate(pairs):
        _, x0 = _denoise(denoise, x, t, clip)
        x = ddpm_step(x, x0, ab, ab_prev, variance, last=i == len(pairs) - 1)
        if trajectory is not None:
            trajectory.append(x)
    return x, len(pairs)


@torch.no_grad()
def sample_ddim(denoise: Denoiser, x: Tensor, schedule: NoiseSchedule, steps: int | None = None,
                eta: float = 0.0, clip: float | None = None,
                trajectory: list[Tensor] | None = None) -> tuple[Tensor, int]:
    """DDIM sampling from x = x_{τ_S} in `steps` network evaluations; returns (x_0, NFE)."""
    check_range("model.eta", eta, 0.0, 1.0)
    pairs = _pairs(schedule, steps or schedule.timesteps)
    for t, ab, ab_prev in pairs:
        eps, x0 = _denoise(denoise, x, t, clip)
        if clip is not None:  # ε consistent with the clamped x̂_0
            eps = eps_from_x0(x, x0, torch.tensor(ab, dtype=x.dtype, device=x.device))
        x = ddim_step(x, eps, x0, ab, ab_prev, eta)
        if trajectory is not None:
            trajectory.append(x)
    return x, len(pairs)


__all__ = ["Denoiser", "SamplerKind", "VarianceKind", "ddim_step", "ddpm_step", "sample_ddim", "sample_ddpm",
           "timesteps"]
