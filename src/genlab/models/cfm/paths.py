"""Conditional probability paths of flow matching: x_t = a(t) x0 + b(t) x1 + s ε and their targets.

Every path here is affine in the pair (x0 from the source, x1 from the data) plus a constant noise
level s: x_t = a(t) x0 + b(t) x1 + s ε, ε ~ N(0, I), with the conditional target velocity
u_t = a'(t) x0 + b'(t) x1 (the noise term has no time derivative), so u_t = d x_t / dt with ε held
fixed. t = 0 is the source, t = 1 the data.

* `ot` (Lipman et al. 2023, arXiv:2210.02747, eqs. 20-23): x_t = (1 - (1 - σ_min) t) x0 + t x1,
  u_t = x1 - (1 - σ_min) x0, no extra noise (σ_min is the data-end width).
* `icfm` (Tong et al. 2024, arXiv:2302.00482, eqs. 14-15): x_t = t x1 + (1 - t) x0 + σ ε,
  u_t = x1 - x0; σ = 0 is rectified flow (Liu et al. 2023, arXiv:2209.03003).
* `otcfm` (Tong et al., sec. 3.2): the `icfm` path on minibatch pairs re-matched by an exact
  optimal-transport assignment (`genlab.models.cfm.pairing`).
* `vp` (torchcfm's VP-CFM; the trigonometric interpolant of Albergo & Vanden-Eijnden 2023,
  arXiv:2209.15571): x_t = cos(πt/2) x0 + sin(πt/2) x1 + σ ε,
  u_t = (π/2)(cos(πt/2) x1 - sin(πt/2) x0).

`PATHS` maps each `PathName` to a factory taking the one noise parameter (σ_min or σ).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor

from genlab.core.checks import check_range

PathName = Literal["ot", "icfm", "otcfm", "vp"]


def _per_example(t: Tensor, x: Tensor) -> Tensor:
    """t of shape (B,) reshaped to broadcast against x (B, ...)."""
    t = t.reshape(-1, *([1] * (x.dim() - 1)))
    return t if t.dtype == x.dtype else t.to(x.dtype)


class AffinePath:
    """x_t = a(t) x0 + b(t) x1 + s ε; subclasses give a, b and their derivatives."""

    ot_pairs: bool = False  # re-pair each minibatch by exact OT before building x_t

    def __init__(self, noise: float = 0.0):
        self.noise = float(noise)

    def coefficients(self, t: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(a(t), b(t), a'(t), b'(t)), each shaped like t."""
        raise NotImplementedError

    def sample(self, x0: Tensor, x1: Tensor, t: Tensor, eps: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """(x_t, u_t) for pairs (x0[i], x1[i]) at times t (B,); `eps` is the path noise (needed
        only when the path has any)."""
        a, b, da, db = (_per_example(c, x0) for c in self.coefficients(t))
        xt = a * x0 + b * x1
        if self.noise > 0:
            if eps is None:
                raise ValueError(f"{type(self).__name__} with noise {self.noise} needs eps")
            xt = xt + self.noise * eps
        return xt, da * x0 + db * x1

    def __repr__(self) -> str:
        return f"{type(self).__name__}(noise={self.noise})"


class GaussianOTPath(AffinePath):
    """Lipman et al.'s OT path: the noise x0 shrinks to width σ_min around x1 (σ_min in [0, 1))."""

    def __init__(self, sigma_min: float = 0.0):
        check_range("model.sigma (σ_min of the ot path)", sigma_min, 0.0, 1.0, high_open=True)
        super().__init__(0.0)
        self.sigma_min = float(sigma_min)

    def coefficients(self, t: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        k = 1.0 - self.sigma_min
        return 1.0 - k * t, t, torch.full_like(t, -k), torch.ones_like(t)

    def __repr__(self) -> str:
        return f"GaussianOTPath(sigma_min={self.sigma_min})"


class LinearPath(AffinePath):
    """I-CFM: the straight line from x0 to x1 with constant noise σ."""

    def __init__(self, sigma: float = 0.0, ot_pairs: bool = False):
        check_range("model.sigma", sigma, 0.0)
        super().__init__(sigma)
        self.ot_pairs = ot_pairs

    def coefficients(self, t: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        return 1.0 - t, t, -torch.ones_like(t), torch.ones_like(t)

    def sample(self, x0: Tensor, x1: Tensor, t: Tensor, eps: Tensor | None = None) -> tuple[Tensor, Tensor]:
        # the same x_t and u_t as the generic rule in three kernels (lerp, add, sub): the training
        # step of I-CFM / OT-CFM is a few small ops on small nets, so their count shows
        xt = torch.lerp(x0, x1, _per_example(t, x0))
        if self.noise > 0:
            if eps is None:
                raise ValueError(f"LinearPath with noise {self.noise} needs eps")
            xt = xt.add(eps, alpha=self.noise)
        return xt, x1 - x0

    def __repr__(self) -> str:
        return f"LinearPath(sigma={self.noise}, ot_pairs={self.ot_pairs})"


class TrigonometricPath(AffinePath):
    """VP / trigonometric: a(t)² + b(t)² = 1, so unit-variance x0, x1 keep unit variance."""

    def __init__(self, sigma: float = 0.0):
        check_range("model.sigma", sigma, 0.0)
        super().__init__(sigma)

    def coefficients(self, t: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        h = 0.5 * math.pi
        c, s = torch.cos(h * t), torch.sin(h * t)
        return c, s, -h * s, h * c


PATHS: dict[str, Callable[[float], AffinePath]] = {
    "ot": GaussianOTPath,
    "icfm": LinearPath,
    "otcfm": lambda sigma: LinearPath(sigma, ot_pairs=True),
    "vp": TrigonometricPath,
}


def build_path(name: PathName, sigma: float = 0.0) -> AffinePath:
    """The path `name` with its noise parameter (σ_min for `ot`, σ otherwise)."""
    return PATHS[name](sigma)


__all__ = ["PATHS", "AffinePath", "GaussianOTPath", "LinearPath", "PathName", "TrigonometricPath",
           "build_path"]
