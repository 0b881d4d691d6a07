"""Langevin dynamics driven by an energy E(x) or by a score s(x) = grad log p(x) = -grad E(x).

Shared below the model families: the energy-based model draws its negatives with an energy (the
gradient by autograd), a noise-conditional score network samples with its score directly
(`run_score` / `step_score`, no autograd), and `AnnealedLangevin` runs the same step over a
decreasing sequence of noise levels (Song & Ermon 2019, arXiv:1907.05600, Algorithm 1).

Two parameterisations of one step:

* theoretical (Welling & Teh 2011, "Bayesian Learning via Stochastic Gradient Langevin Dynamics",
  ICML; https://kexue.fm/archives/6612): x <- x - (eps / 2) grad E(x) + sqrt(eps) xi, xi ~ N(0, I),
  whose stationary law tends to exp(-E(x)) / Z as eps -> 0 (the spec's convention: drift eps / 2,
  noise std sqrt(eps));
* practical (Du & Mordatch 2019, "Implicit Generation and Generalization in Energy-Based Models",
  arXiv:1903.08689, official code openai/ebm_code_release): x <- x + N(0, sigma^2); g = grad E(x)
  clipped elementwise to [-c, c]; x <- x - lambda g; x clamped to the data range. Step size lambda and
  noise std sigma are independent (lambda = 10, sigma = 0.005 for CIFAR-10): short-run sampling,
  not a sampler of exp(-E).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from genlab.core.checks import check_int, check_range
from genlab.core.errors import ConfigError

Energy = Callable[[Tensor], Tensor]  # (B, ...) -> (B,)
Score = Callable[[Tensor], Tensor]  # (B, ...) -> (B, ...): grad_x log p(x) = -grad_x E(x)
NoiseScore = Callable[[Tensor, Tensor], Tensor]  # s(x (B, ...), sigma (B,)) -> (B, ...)


def energy_gradient(energy: Energy, x: Tensor) -> Tensor:
    """grad_x sum_i E(x_i), (B, ...), detached; taken w.r.t. x only.

    A fresh leaf each call: autograd.grad with inputs=x leaves the energy net's parameters without
    .grad, and no graph links one Langevin step to the next.
    """
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():  # callers (sample hooks) may run under no_grad
        (g,) = torch.autograd.grad(energy(x).sum(), x)
    return g


@dataclass(frozen=True)
class LangevinSampler:
    """`n_steps` of Langevin dynamics; build it with `theoretical(...)` or `practical(...)`.

    Each step moves x by `-drift * g + noise_std * xi`, g the (optionally clipped) energy gradient
    (minus the score when driven by a score: `step_score`, `run_score`);
    `noise_first` adds the noise before the gradient is taken, as the official IGEBM code does.
    """

    n_steps: int
    drift: float  # multiplier of the energy gradient
    noise_std: float
    grad_clip: float | None = None  # elementwise clip of the gradient to [-grad_clip, grad_clip]
    clamp: tuple[float, float] | None = None  # x kept in [low, high] after every step
    noise_first: bool = False

    def __post_init__(self) -> None:
        check_int("langevin n_steps", self.n_steps, 0)
        check_range("langevin drift", self.drift, 0.0)
        check_range("langevin noise_std", self.noise_std, 0.0)
        if self.grad_clip is not None:
            check_range("langevin grad_clip", self.grad_clip, 0.0, low_open=True)
        if self.clamp is not None:
            low, high = self.clamp
            check_range("langevin clamp low", low)
            check_range("langevin clamp high", high, low, low_open=True)

    @classmethod
    def theoretical(cls, step_size: float, n_steps: int, grad_clip: float | None = None,
                    clamp: tuple[float, float] | None = None) -> LangevinSampler:
        """x <- x - (eps / 2) grad E(x) + sqrt(eps) xi (eps = `step_size`; Welling & Teh 2011)."""
        check_range("langevin step_size", step_size, 0.0, low_open=True)
        return cls(n_steps, step_size / 2, math.sqrt(step_size), grad_clip, clamp, noise_first=False)

    @classmethod
    def practical(cls, step_size: float = 10.0, noise_std: float = 0.005, n_steps: int = 60,
                  grad_clip: float | None = 0.01,
                  clamp: tuple[float, float] | None = (0.0, 1.0)) -> LangevinSampler:
        """The official IGEBM step: noise, clipped gradient step of `step_size`, clamp (defaults: its
        CIFAR-10 command)."""
        check_range("langevin step_size", step_size, 0.0, low_open=True)
        return cls(n_steps, step_size, noise_std, grad_clip, clamp, noise_first=True)

    def _step(self, grad_energy: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
        """One step from x with g = grad_energy(x) (grad E, or -score); a new detached tensor."""
        if self.noise_first:
            x = x + self.noise_std * torch.randn_like(x)
        g = grad_energy(x.detach()).detach()
        if self.grad_clip is not None:
            g = g.clamp(-self.grad_clip, self.grad_clip)
        x = x.detach() - self.drift * g
        if not self.noise_first:
            x = x + self.noise_std * torch.randn_like(x)
        if self.clamp is not None:
            x = x.clamp(*self.clamp)
        return x

    def step(self, energy: Energy, x: Tensor) -> Tensor:
        """One step from x on the energy (gradient by autograd); returns a new tensor detached from
        every graph."""
        return self._step(lambda y: energy_gradient(energy, y), x)

    def step_score(self, score: Score, x: Tensor) -> Tensor:
        """One step from x driven by the score s(x) = -grad E(x) itself (no autograd); the theoretical
        step is then x + (eps / 2) s(x) + sqrt(eps) xi."""
        return self._step(lambda y: -score(y), x)

    def __call__(self, energy: Energy, x: Tensor) -> Tensor:
        """Run the chain from x0 = `x` (one chain per example) on the energy; returns detached samples.

        The samples are constants for whoever uses them (the EBM's negatives): no gradient flows
        through the chain into the energy net (Du & Mordatch 2019).
        """
        x = x.detach()
        for _ in range(self.n_steps):
            x = self.step(energy, x)
        return x.detach()

    def run_score(self, score: Score, x: Tensor) -> Tensor:
        """Run the chain from x0 = `x` driven by a score; detached samples (the score is called under
        no_grad: a score net needs no graph here)."""
        x = x.detach()
        with torch.no_grad():
            for _ in range(self.n_steps):
                x = self.step_score(score, x)
        return x


def geometric_sigmas(sigma_max: float, sigma_min: float, levels: int) -> tuple[float, ...]:
    """`levels` noise levels from sigma_max down to sigma_min in a geometric sequence (NCSN)."""
    check_int("sigma levels", levels, 1)
    check_range("sigma_min", sigma_min, 0.0, low_open=True)
    check_range("sigma_max", sigma_max, sigma_min)
    if levels == 1:
        return (float(sigma_max),)
    ratio = math.log(sigma_min / sigma_max) / (levels - 1)
    return tuple(float(sigma_max * math.exp(ratio * i)) for i in range(levels))


@dataclass(frozen=True)
class AnnealedLangevin:
    """Annealed Langevin dynamics (Song & Ermon 2019, arXiv:1907.05600, Algorithm 1).

    For each noise level sigma_i of `sigmas` (decreasing), `n_steps` theoretical Langevin steps on
    the noise-conditional score s(x, sigma_i) with step alpha_i = eps * sigma_i^2 / sigma_L^2:
    x <- x + (alpha_i / 2) s(x, sigma_i) + sqrt(alpha_i) z. With `denoise`, a final
    x <- x + sigma_L^2 s(x, sigma_L), the posterior mean E[x_0 | x] by Tweedie's formula, which
    removes the sigma_L noise the chains still carry (Jolicoeur-Martineau et al. 2020,
    arXiv:2009.05475; Song & Ermon 2020, arXiv:2006.09011, NCSNv2). The score is called as
    `score(x, sigma)` with sigma a (B,) tensor of x's dtype; `clamp` keeps x in a box after each
    step (not in Algorithm 1: optional). `nfe` is the number of score evaluations.
    """

    sigmas: tuple[float, ...]
    eps: float = 2e-5  # Song & Ermon's CIFAR-10 / CelebA setting (with sigma_L = 0.01)
    n_steps: int = 100  # T, steps per level
    denoise: bool = True
    clamp: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        sig = tuple(float(v) for v in self.sigmas)
        object.__setattr__(self, "sigmas", sig)
        if not sig:
            raise ConfigError("annealed Langevin needs at least one noise level")
        for i, v in enumerate(sig):
            check_range(f"annealed Langevin sigmas[{i}]", v, 0.0, low_open=True)
        if any(b >= a for a, b in zip(sig, sig[1:])):
            raise ConfigError(f"annealed Langevin sigmas must decrease strictly, got {sig}")
        check_range("annealed Langevin eps", self.eps, 0.0, low_open=True)
        check_int("annealed Langevin n_steps", self.n_steps, 1)

    @property
    def nfe(self) -> int:
        return len(self.sigmas) * self.n_steps + int(self.denoise)

    def step_sizes(self) -> tuple[float, ...]:
        """alpha_i = eps * sigma_i^2 / sigma_L^2."""
        last = self.sigmas[-1]
        return tuple(self.eps * (s / last) ** 2 for s in self.sigmas)

    def __call__(self, score: NoiseScore, x: Tensor) -> Tensor:
        """Run every level from x0 = `x` (e.g. uniform or N(0, sigma_1^2) noise); detached samples."""
        x = x.detach()
        with torch.no_grad():
            for sigma, alpha in zip(self.sigmas, self.step_sizes()):
                level = torch.full((len(x),), sigma, dtype=x.dtype, device=x.device)
                chain = LangevinSampler.theoretical(alpha, self.n_steps, clamp=self.clamp)
                x = chain.run_score(lambda y, level=level: score(y, level), x)
            if self.denoise:
                level = torch.full((len(x),), self.sigmas[-1], dtype=x.dtype, device=x.device)
                x = x + self.sigmas[-1] ** 2 * score(x, level)
                if self.clamp is not None:
                    x = x.clamp(*self.clamp)
        return x


__all__ = ["AnnealedLangevin", "Energy", "LangevinSampler", "NoiseScore", "Score", "energy_gradient",
           "geometric_sigmas"]
