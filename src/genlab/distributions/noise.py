"""Standard noise laws for noise-argmax distributions: what the quadrature and the sampler need.

A noise law here has `icdf(t)` (quantile function: quadrature nodes and inverse-transform sampling),
`log_cdf(x)`, `log_prob(x)` (only for shifted nodes) and `gap_shift`, the fraction of a category's
logit gap to the leader by which its quadrature nodes are moved (see `noise_argmax_probs`).
Built-ins: "gaussian" (multinomial-probit link) and "gumbel" (gives exactly softmax). Any standard
`torch.distributions` object with `icdf` and `cdf` (e.g. `Normal(0., 1.)`, `Laplace(0., 1.)`) is
wrapped as well.
See https://kexue.fm/archives/9085.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import torch
from torch import Tensor


class NoiseLaw(Protocol):
    """I.i.d. noise for argmax(logits + noise): quantile function and log-CDF, both elementwise.

    Example:
        >>> law: NoiseLaw = resolve_noise("gaussian")
        >>> t = torch.tensor([0.1, 0.5, 0.9])
        >>> torch.allclose(law.log_cdf(law.icdf(t)).exp(), t)  # log_cdf inverts icdf
        True
    """

    gap_shift: float

    def icdf(self, t: Tensor) -> Tensor: ...

    def log_cdf(self, x: Tensor) -> Tensor: ...

    def log_prob(self, x: Tensor) -> Tensor: ...


class GaussianNoise:
    """Standard normal noise; `log_ndtr` keeps log Phi accurate far into the left tail.

    A category g behind the leader wins when eps_i - eps_lead > g; that difference is N(0, 2), so
    the winning eps_i sits near g/2: `gap_shift` = 1/2.

    Example:
        >>> x = torch.tensor([-3.0, 0.0, 1.0])
        >>> torch.allclose(GaussianNoise().log_cdf(x).exp(), torch.distributions.Normal(0.0, 1.0).cdf(x))
        True
        >>> bool(torch.isfinite(GaussianNoise().log_cdf(torch.tensor(-40.0))))  # log(cdf) would be -inf
        True
    """

    gap_shift = 0.5

    def icdf(self, t: Tensor) -> Tensor:
        return torch.special.ndtri(t)

    def log_cdf(self, x: Tensor) -> Tensor:
        return torch.special.log_ndtr(x)

    def log_prob(self, x: Tensor) -> Tensor:
        return -0.5 * x * x - 0.5 * math.log(2 * math.pi)


class GumbelNoise:
    """Standard Gumbel noise, Phi(x) = exp(-exp(-x)); the argmax law it induces is softmax(logits).

    The leader's noise has a doubly exponential left tail, so a winner g behind carries about the
    whole gap in its own (exponential right-tail) noise: `gap_shift` = 1.

    Example:
        >>> x = torch.tensor([-1.0, 0.0, 2.0])
        >>> torch.allclose(GumbelNoise().log_cdf(x).exp(), torch.distributions.Gumbel(0.0, 1.0).cdf(x))
        True
        >>> GumbelNoise().icdf(torch.tensor([0.5]))  # the median, -log(log 2)
        tensor([0.3665])
    """

    gap_shift = 1.0

    def icdf(self, t: Tensor) -> Tensor:
        return -torch.log(-torch.log(t))

    def log_cdf(self, x: Tensor) -> Tensor:
        return -torch.exp(-x)

    def log_prob(self, x: Tensor) -> Tensor:
        return -x - torch.exp(-x)


class DistributionNoise:
    """Adapter for a scalar `torch.distributions` object (or any object with `icdf` and `cdf`).

    Uses the object's own `log_cdf` when it has one; otherwise log(cdf), which underflows in far
    tails, so prefer a `log_cdf` for heavy use. `log_prob` is needed only for shifted nodes, which
    are off by default (`gap_shift` = 0) since no good shift is known for an arbitrary law.

    Example:
        >>> law = DistributionNoise(torch.distributions.Laplace(0.0, 1.0))
        >>> t = torch.tensor([0.25, 0.75])
        >>> law.icdf(t), torch.allclose(law.log_cdf(law.icdf(t)).exp(), t)
        (tensor([-0.6931,  0.6931]), True)
    """

    gap_shift = 0.0

    def __init__(self, dist: Any):
        if not callable(getattr(dist, "icdf", None)):
            raise TypeError(f"noise: object {type(dist).__name__} has no icdf(t) method")
        if not (callable(getattr(dist, "log_cdf", None)) or callable(getattr(dist, "cdf", None))):
            raise TypeError(f"noise: object {type(dist).__name__} has neither log_cdf(x) nor cdf(x)")
        self.dist = dist

    def icdf(self, t: Tensor) -> Tensor:
        return self.dist.icdf(t).to(t.dtype)

    def log_cdf(self, x: Tensor) -> Tensor:
        if callable(getattr(self.dist, "log_cdf", None)):
            return self.dist.log_cdf(x).to(x.dtype)
        return torch.log(self.dist.cdf(x)).to(x.dtype)

    def log_prob(self, x: Tensor) -> Tensor:
        if not callable(getattr(self.dist, "log_prob", None)):
            raise TypeError(f"noise: shifted nodes need log_prob(x), which {type(self.dist).__name__} lacks")
        return self.dist.log_prob(x).to(x.dtype)


NOISES: dict[str, type] = {"gaussian": GaussianNoise, "gumbel": GumbelNoise}


def resolve_noise(noise: str | Any) -> NoiseLaw:
    """A `NoiseLaw` from a name in `NOISES` or from a distribution-like object.

    Example:
        >>> resolve_noise("gumbel").gap_shift
        1.0
        >>> isinstance(resolve_noise(torch.distributions.Laplace(0.0, 1.0)), DistributionNoise)
        True
    """
    if isinstance(noise, str):
        if noise not in NOISES:
            raise ValueError(f"noise must be one of {sorted(NOISES)} or a distribution object, got {noise!r}")
        return NOISES[noise]()
    if isinstance(noise, (GaussianNoise, GumbelNoise, DistributionNoise)):
        return noise
    return DistributionNoise(noise)
