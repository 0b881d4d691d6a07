"""Exact log-likelihood of a diffusion model through its probability-flow ODE.

Song et al. 2021 (arXiv:2011.13456), sec. 4.3 and appendix D: the VP SDE
dx = -½ β(τ) x dτ + √β(τ) dw has the same marginals p_τ as the deterministic ODE

    dx/dτ = -½ β(τ) (x + ∇_x log p_τ(x)),   ∇_x log p_τ(x) ≈ s_θ(x, τ) = -ε̂(x, τ)/√(1 - ᾱ(τ)),

with β(τ), ᾱ(τ) the continuous-time extension of the discrete schedule
(`NoiseSchedule.alpha_bar_at` / `beta_at`: exact at τ = t/T). Integrating a data point from τ_0 to
τ = 1 jointly with ∫ ∇·f dτ gives log p(x) = log N(x(1); 0, I) + ∫_{τ_0}^{1} ∇·f dτ
(`genlab.ode.ode_log_likelihood`, instantaneous change of variables).

This is the exact density of a proper model: the flow that carries N(0, I) at τ = 1 to τ_0 along the
learned ODE (it integrates to one over x, up to solver error). τ_0 > 0 because s_θ = -ε̂/√(1 - ᾱ)
is unbounded as τ -> 0 (ᾱ -> 1); Song et al. use τ_0 = 1e-5. The default here, 1/T, is the first
step the network was trained on.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

from genlab.models.diffusion.schedules import NoiseSchedule

EpsFn = Callable[[Tensor, Tensor], Tensor]  # ε̂(x (B, ...), τ (B,)) at continuous times


def probability_flow(eps_fn: EpsFn, schedule: NoiseSchedule) -> Callable[[Tensor, Tensor], Tensor]:
    """The velocity f(x, τ) = -½ β(τ) (x - ε̂(x, τ)/√(1 - ᾱ(τ))), τ a (B,) tensor."""

    def velocity(x: Tensor, tau: Tensor) -> Tensor:
        shape = (-1, *([1] * (x.ndim - 1)))
        beta = schedule.beta_at(tau).to(x.dtype).view(shape)
        sd = (1 - schedule.alpha_bar_at(tau)).sqrt().to(x.dtype).view(shape)
        return -0.5 * beta * (x - eps_fn(x, tau) / sd)

    return velocity


__all__ = ["EpsFn", "probability_flow"]
