"""Noise schedules of discrete-time diffusion (DDPM), and their continuous-time extension.

Steps are 1-based as in the papers: t = 1..T, and index k = t - 1 of every tensor below. ᾱ_0 = 1
(no noise) is the value before the first step.

* linear (Ho et al. 2020, arXiv:2006.11239, sec. 4): β_t evenly spaced from `beta_start` (1e-4) to
  `beta_end` (0.02) for T = 1000.
* cosine (Nichol & Dhariwal 2021, arXiv:2102.09672, eq. 17): ᾱ_t = f(t)/f(0) with
  f(t) = cos²(((t/T) + s)/(1 + s) · π/2), s = 0.008, then β_t = min(1 - ᾱ_t/ᾱ_{t-1}, 0.999) and ᾱ
  recomputed as the product of the clipped α_t = 1 - β_t (diffusers' "squaredcos_cap_v2").

Constants are computed in float64 and cast to the caller's dtype where they are used.

Continuous time (for the probability-flow ODE, Song et al. 2021, arXiv:2011.13456): time
τ = t/T ∈ [0, 1], and log ᾱ(τ) interpolates the knots (t/T, log ᾱ_t), t = 0..T (ᾱ_0 = 1), by a
monotone piecewise-cubic Hermite curve (slopes: Fritsch & Butland's harmonic mean of the adjacent
secants, "A method for constructing local monotone piecewise cubic interpolants", 1984). So
ᾱ(t/T) equals the discrete ᾱ_t exactly (the network was trained at exactly those noise levels),
ᾱ decreases, and β(τ) = -d log ᾱ/dτ >= 0 is continuous: a piecewise-linear log ᾱ would make β jump
at every grid point, which costs adaptive and fixed-step ODE solvers their order (measured: RK4's
error fell only 18x for 10x more steps). The VP SDE dx = -½ β(τ) x dτ + √β(τ) dw then has the
marginals q(x_τ | x_0) = N(√ᾱ(τ) x_0, (1 - ᾱ(τ)) I) (Song et al. eq. 29), at grid times the
discrete process's.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

from genlab.core.checks import check_int, check_range
from genlab.core.errors import ConfigError

ScheduleKind = Literal["linear", "cosine"]


def linear_betas(timesteps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> Tensor:
    """Ho et al.'s β_t, t = 1..T, evenly spaced (float64)."""
    return torch.linspace(beta_start, beta_end, timesteps, dtype=torch.float64)


def cosine_betas(timesteps: int, s: float = 0.008, max_beta: float = 0.999) -> Tensor:
    """Nichol & Dhariwal's β_t = min(1 - ᾱ_t/ᾱ_{t-1}, max_beta), ᾱ_t = f(t)/f(0) (float64)."""
    t = torch.arange(timesteps + 1, dtype=torch.float64) / timesteps
    f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
    return (1 - f[1:] / f[:-1]).clamp(max=max_beta)


class NoiseSchedule(nn.Module):
    """β_t, α_t = 1 - β_t and ᾱ_t = Π_{s≤t} α_s for t = 1..T (index t - 1), as float64 buffers
    (not saved: rebuilt from the config), plus the posterior q(x_{t-1} | x_t, x_0) constants.

    `alpha_bar_prev[k]` is ᾱ_{t-1} (1 at t = 1); `posterior_variance[k]` is
    β̃_t = β_t (1 - ᾱ_{t-1})/(1 - ᾱ_t) (Ho et al. eq. 7; 0 at t = 1).
    """

    def __init__(self, betas: Tensor):
        super().__init__()
        betas = torch.as_tensor(betas, dtype=torch.float64)
        if betas.ndim != 1 or len(betas) < 1 or not bool(((betas > 0) & (betas < 1)).all()):
            raise ConfigError("a noise schedule needs betas in (0, 1), one per step")
        alphas = 1 - betas
        alpha_bar = torch.cumprod(alphas, 0)
        alpha_bar_prev = torch.cat([alpha_bar.new_ones(1), alpha_bar[:-1]])
        knots = torch.cat([betas.new_zeros(1), alpha_bar.log()])
        for name, value in (
            ("betas", betas), ("alphas", alphas), ("alpha_bar", alpha_bar),
            ("alpha_bar_prev", alpha_bar_prev),
            ("posterior_variance", betas * (1 - alpha_bar_prev) / (1 - alpha_bar)),
            # log ᾱ at τ = k/T, k = 0..T, and its slopes there: the continuous-time extension
            ("log_alpha_bar_knots", knots), ("log_alpha_bar_slopes", _monotone_slopes(knots)),
        ):
            self.register_buffer(name, value, persistent=False)

    @classmethod
    def build(cls, kind: ScheduleKind, timesteps: int, beta_start: float = 1e-4, beta_end: float = 0.02,
              cosine_s: float = 0.008, max_beta: float = 0.999) -> NoiseSchedule:
        check_int("model.timesteps", timesteps, 1)
        if kind == "linear":
            check_range("model.beta_start", beta_start, 0.0, 1.0, low_open=True, high_open=True)
            check_range("model.beta_end", beta_end, beta_start, 1.0, high_open=True)
            return cls(linear_betas(timesteps, beta_start, beta_end))
        if kind == "cosine":
            check_range("model.cosine_s", cosine_s, 0.0, low_open=True)
            check_range("model.max_beta", max_beta, 0.0, 1.0, low_open=True, high_open=True)
            return cls(cosine_betas(timesteps, cosine_s, max_beta))
        raise ConfigError(f"unknown model.schedule {kind!r}; choose one of: linear, cosine")

    @property
    def timesteps(self) -> int:
        return len(self.betas)

    def at(self, name: str, t: Tensor, like: Tensor) -> Tensor:
        """Constant `name` at integer steps t (B,) in 1..T, shaped (B, 1, ..., 1) to broadcast
        against `like` and cast to its dtype."""
        value = getattr(self, name)[t.long() - 1]
        return value.to(like.dtype).view(-1, *([1] * (like.ndim - 1)))

    # ------------------------------------------------------------------ continuous time
    def _hermite(self, tau: Tensor) -> tuple[Tensor, Tensor]:
        """(log ᾱ(τ), d log ᾱ/dτ) on the monotone cubic through the knots (float64)."""
        tau = torch.as_tensor(tau, dtype=torch.float64, device=self.betas.device).clamp(0.0, 1.0)
        T = self.timesteps
        k = (tau * T).floor().long().clamp(max=T - 1)
        s = tau * T - k  # position inside the interval, [0, 1]
        y0, y1 = self.log_alpha_bar_knots[k], self.log_alpha_bar_knots[k + 1]
        m0, m1 = self.log_alpha_bar_slopes[k] / T, self.log_alpha_bar_slopes[k + 1] / T  # per unit s
        s2, s3 = s * s, s * s * s
        value = (2 * s3 - 3 * s2 + 1) * y0 + (s3 - 2 * s2 + s) * m0 + (-2 * s3 + 3 * s2) * y1 + (s3 - s2) * m1
        slope = ((6 * s2 - 6 * s) * y0 + (3 * s2 - 4 * s + 1) * m0 + (6 * s - 6 * s2) * y1
                 + (3 * s2 - 2 * s) * m1)
        return value, slope * T

    def alpha_bar_at(self, tau: Tensor) -> Tensor:
        """ᾱ(τ) for τ ∈ [0, 1] (float64); equals ᾱ_t at τ = t/T."""
        return self._hermite(tau)[0].exp()

    def beta_at(self, tau: Tensor) -> Tensor:
        """β(τ) = -d log ᾱ(τ)/dτ (float64, continuous, >= 0)."""
        return -self._hermite(tau)[1]


def _monotone_slopes(y: Tensor) -> Tensor:
    """Slopes at the knots τ_k = k/T of a decreasing sequence y_k: the harmonic mean of the
    adjacent secants inside (Fritsch & Butland), the one secant at either end; with these the
    cubic Hermite interpolant is monotone."""
    T = len(y) - 1
    d = (y[1:] - y[:-1]) * T  # secants, all negative
    inner = 2 * d[:-1] * d[1:] / (d[:-1] + d[1:])
    return torch.cat([d[:1], inner, d[-1:]])


__all__ = ["NoiseSchedule", "ScheduleKind", "cosine_betas", "linear_betas"]
