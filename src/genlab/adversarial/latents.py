"""Latent priors of the adversarial families: the prior (normal or uniform) that GAN generators, AAE
and ALI decoders are trained on, and the truncation and hubness-prior samplers for GAN sampling."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from genlab.core.checks import choice
from genlab.core.errors import ConfigError

PriorName = Literal["normal", "uniform"]
PRIORS: tuple[PriorName, ...] = ("normal", "uniform")
SamplerName = Literal["prior", "truncated", "hubness"]  # how a GAN draws latents for sampling


def sample_prior(n: int, dim: int, kind: str = "normal", device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> Tensor:
    """n latents from N(0, I) (`normal`) or U[-1, 1]^dim (`uniform`, as in Su's WGAN-GP code)."""
    if kind == "normal":
        return torch.randn(n, dim, device=device, dtype=dtype)
    if kind == "uniform":
        return torch.rand(n, dim, device=device, dtype=dtype) * 2 - 1
    choice(kind, PRIORS, "latent prior")
    raise AssertionError(kind)  # every prior is handled above


def truncated_normal(n: int, dim: int, threshold: float, device: torch.device | str | None = None,
                     dtype: torch.dtype | None = None) -> Tensor:
    """N(0, I) with every component redrawn until |z_i| <= threshold: the truncation trick
    (Brock et al. 2019, BigGAN, arXiv:1809.11096, sec. 3.1). Trades diversity for quality."""
    if not threshold > 0:
        raise ConfigError(f"truncation threshold must be positive, got {threshold}")
    z = torch.randn(n, dim, device=device, dtype=dtype)
    while True:
        bad = z.abs() > threshold
        if not bad.any():
            return z
        z[bad] = torch.randn(int(bad.sum()), device=device, dtype=dtype)


class HubnessLatentSampler:
    """Keep prior draws that are *hubs*: frequent k-nearest neighbours within a large pool.

    Liang et al. 2022, "Exploring and Exploiting Hubness Priors for High-Quality GAN Latent
    Sampling" (arXiv:2206.06014); the algorithm of https://kexue.fm/archives/9147: draw `pool`
    latents, count for each how many pool points have it among their k nearest neighbours (its
    k-occurrence, mean k), keep those whose count exceeds `threshold`, repeat with fresh pools.
    Defaults k=5, pool=10000, threshold=50 keep about 1.4 % of draws at d=128 and none at d <= 16
    (hubness needs high dimension); `quantile` instead keeps counts above that quantile of each
    pool. Draws come from `prior` (N(0, I) in the paper). `acceptance_rate` reports the fraction kept so far.
    """

    def __init__(self, dim: int, k: int = 5, threshold: float = 50, pool: int = 10000,
                 chunk: int = 1000, quantile: float | None = None, max_pools: int = 100,
                 prior: str = "normal"):
        if k < 1 or pool <= k or chunk < 1 or max_pools < 1:
            raise ConfigError("hubness sampler needs k >= 1, pool > k, chunk >= 1, max_pools >= 1")
        if quantile is not None and not 0 <= quantile < 1:
            raise ConfigError(f"hubness quantile must be in [0, 1), got {quantile}")
        self.dim, self.k, self.threshold, self.pool = dim, k, threshold, pool
        self.chunk, self.quantile, self.max_pools = chunk, quantile, max_pools
        self.prior = prior
        self.drawn = self.kept = 0

    @property
    def acceptance_rate(self) -> float:
        return self.kept / max(self.drawn, 1)

    def hub_values(self, z: Tensor) -> Tensor:
        """k-occurrence N_k of each row of z (N, d) among the rows of z, self excluded."""
        n = z.shape[0]
        sq = z.square().sum(1)
        counts = torch.zeros(n, dtype=torch.long, device=z.device)
        for start in range(0, n, self.chunk):
            q = z[start:start + self.chunk]
            d2 = sq[start:start + len(q), None] + sq[None, :] - 2 * q @ z.T  # (chunk, N)
            rows = torch.arange(len(q), device=z.device)
            d2[rows, start + rows] = float("inf")  # a point is not its own neighbour
            nearest = d2.topk(self.k, dim=1, largest=False).indices
            counts += torch.bincount(nearest.flatten(), minlength=n)
        return counts

    @torch.no_grad()
    def __call__(self, n: int, device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> Tensor:
        """n hub latents (n, dim); ConfigError if `max_pools` pools are not enough."""
        out: list[Tensor] = []
        got = 0
        for _ in range(self.max_pools):
            if got >= n:
                break
            z = sample_prior(self.pool, self.dim, self.prior, device, dtype)
            hub = self.hub_values(z)
            t = self.threshold if self.quantile is None else torch.quantile(hub.double(), self.quantile)
            keep = z[hub > t]
            self.drawn += self.pool
            self.kept += len(keep)
            out.append(keep)
            got += len(keep)
        if got < n:
            raise ConfigError(
                f"hubness sampler kept {got} of {self.drawn} latents (< {n} requested) at d={self.dim}, "
                f"k={self.k}, threshold={self.threshold}: hubs need a high-dimensional latent; lower "
                "the threshold or set a quantile"
            )
        return torch.cat(out)[:n]


__all__ = ["PRIORS", "HubnessLatentSampler", "PriorName", "SamplerName", "sample_prior", "truncated_normal"]
