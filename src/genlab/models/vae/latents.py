"""The VAE's latent variables, chosen by `model.latent_type`: what the encoder outputs, how z is drawn
(reparameterised or relaxed for training, exact for likelihoods), the KL to the prior, and prior
draws for sampling.

* `gaussian`: q(z|x) = N(mu, sigma^2), prior N(0, I) (Kingma & Welling, arXiv:1312.6114).
* `categorical`: `latent_dim` independent K-way categorical variables, uniform prior, q(z|x) the
  law of argmax(logits + noise) (`genlab.distributions`; Gumbel noise gives softmax(logits)).
  Training decodes a Gumbel-softmax sample or its straight-through one-hot (Jang, Gu & Poole,
  arXiv:1611.01144; Maddison et al., arXiv:1611.00712), with the KL to the uniform prior in closed
  form. The *model* is the discrete one (the decoder applied to one-hot codes): its ELBO and
  importance-sampled likelihood use exact one-hot draws from q, so they are proper bounds /
  estimates of log p(x) for that model; the relaxation is only the training gradient's device.
"""

from __future__ import annotations

import math
from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import Tensor

from genlab.core.registry import Registry
from genlab.distributions import gumbel_softmax, noise_argmax_probs, sample_noise_argmax
from genlab.distributions.gaussian import LOG_2PI, normal_log_prob


class GaussianLatent:
    """Diagonal Gaussian posterior with a standard-normal prior; params are (mean, log_std)."""

    def __init__(self, dim: int):
        self.dim = dim
        self.n_params, self.n_code = 2 * dim, dim

    def params(self, h: Tensor) -> tuple[Tensor, Tensor]:
        mean, log_std = h.chunk(2, dim=-1)
        return mean, log_std.clamp(-10, 5)

    def rsample(self, params: tuple[Tensor, Tensor]) -> Tensor:
        """One reparameterised z per example, (B, dim)."""
        mean, log_std = params
        return mean + torch.randn_like(mean) * log_std.exp()

    exact_sample = rsample  # the reparameterised draw is already exact

    def kl(self, params: tuple[Tensor, Tensor]) -> Tensor:
        """KL(N(mu, sigma^2) || N(0, I)) per example (Kingma & Welling, appendix B)."""
        mean, log_std = params
        return 0.5 * (mean**2 + torch.exp(2 * log_std) - 1 - 2 * log_std).sum(-1)

    def log_ratio_samples(self, params: tuple[Tensor, Tensor], k: int) -> tuple[Tensor, Tensor]:
        """k reparameterised draws z (k, B, dim) and log p(z) - log q(z|x), (k, B)."""
        mean, log_std = params
        eps = torch.randn(k, *mean.shape, device=mean.device, dtype=mean.dtype)
        z = mean + eps * log_std.exp()
        log_q = normal_log_prob(z, mean, log_std).sum(-1)
        log_prior = (-0.5 * z**2 - 0.5 * LOG_2PI).sum(-1)
        return z, log_prior - log_q

    def prior(self, n: int, like: Tensor) -> Tensor:
        return torch.randn(n, self.dim, device=like.device, dtype=like.dtype)


def _softmax_log_pmf(logits: Tensor) -> Tensor:
    return torch.log_softmax(logits, dim=-1)  # = noise_argmax_probs(logits, "gumbel"), in closed form


def _probit_log_pmf(logits: Tensor) -> Tensor:
    # Multinomial probit by quadrature (64 nodes, renormalised): exact only up to the quadrature
    # error, so KL and importance weights inherit that small error; Gumbel noise has none.
    return noise_argmax_probs(logits, "gaussian", log=True, renormalize=True)


LatentType = Literal["gaussian", "categorical"]
Relaxation = Literal["gumbel_softmax", "straight_through"]  # the categorical training sample
Noise = Literal["gumbel", "gaussian"]  # q(z|x) = law of argmax(logits + noise)

# noise of the argmax sampler -> log q(category) of each group, (..., K)
LOG_PMFS: Registry = Registry("model.noise")
LOG_PMFS.register("gumbel")(_softmax_log_pmf)
LOG_PMFS.register("gaussian")(_probit_log_pmf)
RELAXATIONS: tuple[str, ...] = get_args(Relaxation)


class CategoricalLatent:
    """`groups` K-way categorical variables; params are logits (B, groups, K); codes are the
    concatenated one-hots (B, groups * K)."""

    def __init__(self, groups: int, categories: int, relaxation: Relaxation = "gumbel_softmax",
                 temperature: float = 1.0, noise: Noise = "gumbel"):
        self.groups, self.k, self.temperature, self.noise = groups, categories, temperature, noise
        self.hard = relaxation == "straight_through"
        self.log_pmf = LOG_PMFS.get(noise)
        self.n_params = self.n_code = groups * categories

    def params(self, h: Tensor) -> Tensor:
        return h.view(-1, self.groups, self.k)

    def rsample(self, logits: Tensor) -> Tensor:
        """A relaxed sample (soft, or straight-through one-hot) per example, (B, groups * K)."""
        return gumbel_softmax(logits, self.temperature, hard=self.hard, noise=self.noise).flatten(1)

    def exact_sample(self, logits: Tensor) -> Tensor:
        """An exact one-hot draw from q(z|x) per example (no gradient), (B, groups * K)."""
        return F.one_hot(sample_noise_argmax(logits, self.noise), self.k).to(logits.dtype).flatten(1)

    def kl(self, logits: Tensor) -> Tensor:
        """KL(q || uniform) = sum over groups of sum_k q_k (log q_k + log K), per example."""
        log_q = self.log_pmf(logits)
        return (log_q.exp() * (log_q + math.log(self.k))).sum((-1, -2))

    def log_ratio_samples(self, logits: Tensor, k: int) -> tuple[Tensor, Tensor]:
        """k exact one-hot draws z (k, B, groups * K) and log p(z) - log q(z|x), (k, B)."""
        idx = sample_noise_argmax(logits, self.noise, (k,))  # (k, B, groups)
        log_q = self.log_pmf(logits).expand(k, *logits.shape).gather(-1, idx[..., None]).squeeze(-1)
        z = F.one_hot(idx, self.k).to(logits.dtype).flatten(2)
        return z, -self.groups * math.log(self.k) - log_q.sum(-1)

    def prior(self, n: int, like: Tensor) -> Tensor:
        idx = torch.randint(self.k, (n, self.groups), device=like.device)
        return F.one_hot(idx, self.k).to(like.dtype).flatten(1)


LATENTS: tuple[str, ...] = get_args(LatentType)

__all__ = ["LATENTS", "LOG_PMFS", "RELAXATIONS", "CategoricalLatent", "GaussianLatent", "LatentType", "Noise",
           "Relaxation"]
