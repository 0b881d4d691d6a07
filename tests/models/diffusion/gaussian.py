"""The exact denoiser of Gaussian data N(μ, Σ) (closed forms of /work spec sec. 6, derived below).

x_t = √ᾱ x_0 + √(1 - ᾱ) ε with x_0 ~ N(μ, Σ) is Gaussian: x_t ~ N(√ᾱ μ, C), C = ᾱ Σ + (1 - ᾱ) I, and
(x_t, ε) are jointly Gaussian with Cov(ε, x_t) = √(1 - ᾱ) I, so E[ε | x_t] = √(1 - ᾱ) C⁻¹ (x_t - √ᾱ μ).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

MU = torch.tensor([0.5, -1.0], dtype=torch.float64)
SIGMA = torch.tensor([[1.0, 0.6], [0.6, 0.5]], dtype=torch.float64)  # non-diagonal, eigenvalues 0.1 .. 1.4


def optimal_eps(x: Tensor, alpha_bar: Tensor, mu: Tensor = MU, sigma: Tensor = SIGMA) -> Tensor:
    """E[ε | x_t = x] for x (B, D); alpha_bar a number, (B,) or (B, 1) tensor."""
    ab = torch.as_tensor(alpha_bar, dtype=torch.float64).reshape(-1, 1, 1)
    eye = torch.eye(len(mu), dtype=torch.float64)
    cov = ab * sigma + (1 - ab) * eye  # (B or 1, D, D)
    centred = (x.double() - ab[:, :, 0].sqrt() * mu).unsqueeze(-1)
    eps = (1 - ab).sqrt() * torch.linalg.solve(cov, centred)
    return eps.squeeze(-1).to(x.dtype)


def log_normal(x: Tensor, mu: Tensor = MU, sigma: Tensor = SIGMA) -> Tensor:
    return torch.distributions.MultivariateNormal(mu, sigma).log_prob(x.double())


def mean_cov_tolerance(n: int, sigma: Tensor = SIGMA, z: float = 5.0) -> tuple[float, float]:
    """z standard errors of the sample mean and of a sample covariance entry (Gaussian data:
    Var(S_ij) = (Σ_ij² + Σ_ii Σ_jj)/n)."""
    s = sigma.diagonal().max().item()
    return z * math.sqrt(s / n), z * math.sqrt(2 * s * s / n)
