"""Priors, the multi-scale split, and a whole flow density model built from them.

Multi-scale architecture (RealNVP, arXiv:1605.08803, sec. 3.6): after each level half of the channels
are factored out as latents and only the other half is transformed further, which saves computation
and lets the factored-out half be modelled at its own scale. Glow (arXiv:1807.03039, official code
`split2d`) gives the factored-out half z2 a *conditional* Gaussian prior whose mean and log-std are a
(zero-initialised) convolution of the kept half z1, and gives the top latent a learned ("learntop")
per-channel mean and log-std; RealNVP uses a standard normal for both. Writing
eps = (z2 - mu(z1)) / sigma(z1), the density is log N(eps; 0, I) - sum log sigma(z1), so a model can
shrink sigma to spend fewer bits on unimportant dimensions.

Latents returned by `MultiScaleFlow.forward` are these standardised eps, so `inverse(latents)` is an
exact reconstruction and sampling at temperature T draws eps ~ N(0, T^2 I) (Glow sec. 5, fig. 8).
"""

from __future__ import annotations

from typing import Literal, get_args

import torch
from torch import Tensor, nn

from genlab.core.checks import choice
from genlab.core.errors import ConfigError
from genlab.distributions.gaussian import std_normal_log_prob
from genlab.models.flow.base import FlowSequence, sum_per_example, wide

SplitPrior = Literal["conditional", "standard"]  # Glow split2d | RealNVP N(0, I)
SPLIT_PRIORS: tuple[str, ...] = get_args(SplitPrior)



class Prior(nn.Module):
    """Diagonal Gaussian over the top latent; per-channel mean and log-std learned if `learn`.

    `learn=False` is the standard normal (NICE, RealNVP); `learn=True` is Glow's learntop, zero-
    initialised so the model starts at N(0, I).
    """

    def __init__(self, channels: int, learn: bool):
        super().__init__()
        self.learn = learn
        self.mean = nn.Parameter(torch.zeros(channels)) if learn else None
        self.log_std = nn.Parameter(torch.zeros(channels)) if learn else None

    def _stats(self, z: Tensor) -> tuple[Tensor, Tensor]:
        shape = (1, -1, *([1] * (z.dim() - 2)))
        return self.mean.view(shape), self.log_std.view(shape)

    def standardize(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """(eps, log p(z)) with eps the standardised latent."""
        if not self.learn:
            return z, std_normal_log_prob(z)
        mean, log_std = self._stats(z)
        eps = (z - mean) * torch.exp(-log_std)
        return eps, std_normal_log_prob(eps) - z[0, 0].numel() * wide(log_std).sum()

    def unstandardize(self, eps: Tensor) -> Tensor:
        if not self.learn:
            return eps
        mean, log_std = self._stats(eps)
        return mean + eps * torch.exp(log_std)


class Split(nn.Module):
    """Factor out the second channel half z2 of x = [z1, z2]; z1 continues through the flow.

    prior="conditional": z2 ~ N(mu(z1), sigma(z1)^2) with (mu, log sigma) from a zero-initialised
    3x3 conv (images) or linear layer (vectors) -- Glow's split2d. prior="standard": z2 ~ N(0, I) --
    RealNVP. `forward(x)` returns (z1, eps, log p(z2 | z1)); `inverse(z1, eps)` rebuilds x.
    """

    def __init__(self, channels: int, image: bool, prior: SplitPrior = "conditional"):
        super().__init__()
        choice(prior, SPLIT_PRIORS, "split prior")
        if channels < 2:
            raise ConfigError(f"cannot split {channels} channel(s) in halves")
        self.channels, self.keep = channels, channels - channels // 2
        self.net: nn.Module | None = None
        if prior == "conditional":
            out = 2 * (channels // 2)
            self.net = nn.Conv2d(self.keep, out, 3, padding=1) if image else nn.Linear(self.keep, out)
            nn.init.zeros_(self.net.weight)
            nn.init.zeros_(self.net.bias)

    def _stats(self, z1: Tensor) -> tuple[Tensor, Tensor] | None:
        if self.net is None:
            return None
        h = self.net(z1)
        return h[:, 0::2], h[:, 1::2]

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        if x.shape[1] != self.channels:
            raise ValueError(f"Split built for {self.channels} channels, got shape {tuple(x.shape)}")
        z1, z2 = x[:, : self.keep], x[:, self.keep :]
        stats = self._stats(z1)
        if stats is None:
            return z1, z2, std_normal_log_prob(z2)
        mean, log_std = stats
        eps = (z2 - mean) * torch.exp(-log_std)
        return z1, eps, std_normal_log_prob(eps) - sum_per_example(log_std)

    def inverse(self, z1: Tensor, eps: Tensor) -> Tensor:
        stats = self._stats(z1)
        z2 = eps if stats is None else stats[0] + eps * torch.exp(stats[1])
        return torch.cat([z1, z2], 1)


class MultiScaleFlow(nn.Module):
    """stage_0, split_0, stage_1, split_1, ..., stage_L-1, top prior.

    With one stage and no splits this is a plain flow (vector models). `forward(x)` returns
    (latents, log p(x)) with log p exact and per example (nats, float32 or wider); `inverse(latents)`
    is the generator; `sample_latents(n, temperature)` draws every standardised latent from
    N(0, T^2 I) in the parameters' dtype and on their device.
    """

    def __init__(self, stages: list[FlowSequence], splits: list[Split], top: Prior,
                 example_shape: tuple[int, ...]):
        super().__init__()
        if len(splits) != len(stages) - 1:
            raise ValueError("need exactly one split between consecutive stages")
        self.stages, self.splits, self.top = nn.ModuleList(stages), nn.ModuleList(splits), top
        self.example_shape = tuple(example_shape)
        was = self.training
        self.eval()  # trace latent shapes without triggering ActNorm's data-dependent init
        with torch.no_grad():
            latents, _ = self.forward(torch.zeros(1, *self.example_shape))
        self.train(was)
        self.latent_shapes = [tuple(z.shape[1:]) for z in latents]

    def forward(self, x: Tensor) -> tuple[list[Tensor], Tensor]:
        total = wide(x.new_zeros(x.shape[0]))
        latents = []
        h = x
        for i, stage in enumerate(self.stages):
            h, logdet = stage(h)
            total = total + logdet
            if i < len(self.splits):
                h, eps, log_p = self.splits[i](h)
                total = total + log_p
                latents.append(eps)
        eps, log_p = self.top.standardize(h)
        latents.append(eps)
        return latents, total + log_p

    def inverse(self, latents: list[Tensor]) -> Tensor:
        if len(latents) != len(self.latent_shapes):
            raise ValueError(f"expected {len(self.latent_shapes)} latents, got {len(latents)}")
        h = self.top.unstandardize(latents[-1])
        for i in range(len(self.stages) - 1, -1, -1):
            if i < len(self.splits):
                h = self.splits[i].inverse(h, latents[i])
            h = self.stages[i].inverse(h)
        return h

    def sample_latents(self, n: int, temperature: float = 1.0) -> list[Tensor]:
        ref = next(self.parameters(), None)
        like = {} if ref is None else {"device": ref.device, "dtype": ref.dtype}
        return [temperature * torch.randn(n, *s, **like) for s in self.latent_shapes]
