"""Source distributions p_0 of flow matching: N(0, I), or any of genlab's registered 2-D toys.

Flow matching only needs to *sample* the source (torchcfm's 2-D benchmark maps 8 Gaussians to two
moons); the ODE likelihood also needs its log-density, which N(0, I) and the Gaussian-mixture toys
have in closed form (`has_density`). Every draw comes from torch's global generator (a toy draws one
integer seed from it for its numpy sampler), so the trainer's checkpointed random state makes a
resumed run repeat the same sources.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

from genlab.core.errors import ConfigError
from genlab.core.protocol import DataSpec
from genlab.data.toy import TOYS, toy_mixture, toy_samples

SourceName = Literal["normal", "8gaussians", "25gaussians", "swissroll", "moons", "rings", "checkerboard"]


class Source:
    """sample(n, like) -> (n, *shape) on like's device and dtype; log_prob(x) -> (n,) where known."""

    has_density: bool = False

    def __init__(self, shape: tuple[int, ...]):
        self.shape = tuple(shape)

    def sample(self, n: int, like: Tensor) -> Tensor:
        raise NotImplementedError

    def log_prob(self, x: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no closed-form density")


class StandardNormal(Source):
    """N(0, I) in the data's shape."""

    has_density = True

    def sample(self, n: int, like: Tensor) -> Tensor:
        return torch.randn(n, *self.shape, device=like.device, dtype=like.dtype)

    def log_prob(self, x: Tensor) -> Tensor:
        d = math.prod(self.shape)
        return -0.5 * x.flatten(1).square().sum(1) - 0.5 * d * math.log(2 * math.pi)


class ToySource(Source):
    """A 2-D toy of `genlab.data.toy`, fresh samples from a seed drawn from torch's generator."""

    def __init__(self, name: str):
        super().__init__((2,))
        self.name = name
        mixture = toy_mixture(name)
        self.has_density = mixture is not None
        if mixture is not None:
            self.centers = torch.as_tensor(mixture[0], dtype=torch.float64)
            self.std = float(mixture[1])

    def sample(self, n: int, like: Tensor) -> Tensor:
        seed = int(torch.randint(0, 2**31 - 1, ()))  # the global generator, as for N(0, I)
        return toy_samples(self.name, n, seed).to(like.device, like.dtype)

    def log_prob(self, x: Tensor) -> Tensor:
        """Equal-weight isotropic mixture density (Gaussian-mixture toys only)."""
        if not self.has_density:
            return super().log_prob(x)
        c = self.centers.to(x.device, x.dtype)
        sq = (x[:, None, :] - c[None]).square().sum(-1)
        log_comp = -sq / (2 * self.std**2) - 2 * math.log(self.std) - math.log(2 * math.pi)
        return torch.logsumexp(log_comp, 1) - math.log(len(c))


def build_source(name: SourceName, spec: DataSpec) -> Source:
    """The source `name` for data `spec` (a toy source needs 2-D vector data)."""
    if name == "normal":
        return StandardNormal(spec.shape)
    if name not in TOYS:  # Literal-checked configs never get here; direct callers may
        raise KeyError(name)
    if tuple(spec.shape) != (2,):
        raise ConfigError(f"model.source={name} is a 2-D toy; it needs 2-D vector data, "
                          f"got example shape {spec.shape}")
    return ToySource(name)


__all__ = ["SourceName", "Source", "StandardNormal", "ToySource", "build_source"]
