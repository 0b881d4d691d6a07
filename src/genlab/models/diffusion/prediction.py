"""What the network predicts (ε, x_0 or v) and the exact conversions between them.

With a = √ᾱ_t and s = √(1 - ᾱ_t) (a² + s² = 1), the forward process is x_t = a x_0 + s ε
(Ho et al. 2020, arXiv:2006.11239, eq. 4) and the velocity of Salimans & Ho 2022
(arXiv:2202.00512, sec. 4) is v = a ε - s x_0. Given x_t, any one of (ε, x_0, v) fixes the others:

    x_0 = (x_t - s ε)/a        ε = (x_t - a x_0)/s
    ε   = s x_t + a v          x_0 = a x_t - s v
    v   = a ε - s x_0

The training loss is the "simple" mean squared error of Ho et al. (eq. 14) on the chosen target.
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor

PredictionKind = Literal["eps", "x0", "v"]


def x0_from_eps(x_t: Tensor, eps: Tensor, alpha_bar: Tensor) -> Tensor:
    return (x_t - (1 - alpha_bar).sqrt() * eps) / alpha_bar.sqrt()


def eps_from_x0(x_t: Tensor, x0: Tensor, alpha_bar: Tensor) -> Tensor:
    return (x_t - alpha_bar.sqrt() * x0) / (1 - alpha_bar).sqrt()


def v_from_eps_x0(eps: Tensor, x0: Tensor, alpha_bar: Tensor) -> Tensor:
    return alpha_bar.sqrt() * eps - (1 - alpha_bar).sqrt() * x0


def eps_from_v(x_t: Tensor, v: Tensor, alpha_bar: Tensor) -> Tensor:
    return (1 - alpha_bar).sqrt() * x_t + alpha_bar.sqrt() * v


def x0_from_v(x_t: Tensor, v: Tensor, alpha_bar: Tensor) -> Tensor:
    return alpha_bar.sqrt() * x_t - (1 - alpha_bar).sqrt() * v


def target(kind: PredictionKind, x0: Tensor, eps: Tensor, alpha_bar: Tensor) -> Tensor:
    """The regression target of a network predicting `kind`, for x_t = √ᾱ x_0 + √(1 - ᾱ) ε."""
    if kind == "eps":
        return eps
    if kind == "x0":
        return x0
    return v_from_eps_x0(eps, x0, alpha_bar)


def to_eps(kind: PredictionKind, out: Tensor, x_t: Tensor, alpha_bar: Tensor) -> Tensor:
    """ε implied by a network output of kind `kind` at x_t (`alpha_bar` broadcasts against x_t)."""
    if kind == "eps":
        return out
    if kind == "x0":
        return eps_from_x0(x_t, out, alpha_bar)
    return eps_from_v(x_t, out, alpha_bar)


def to_x0(kind: PredictionKind, out: Tensor, x_t: Tensor, alpha_bar: Tensor) -> Tensor:
    """x_0 implied by a network output of kind `kind` at x_t."""
    if kind == "eps":
        return x0_from_eps(x_t, out, alpha_bar)
    if kind == "x0":
        return out
    return x0_from_v(x_t, out, alpha_bar)


__all__ = ["PredictionKind", "eps_from_v", "eps_from_x0", "target", "to_eps", "to_x0", "v_from_eps_x0",
           "x0_from_eps", "x0_from_v"]
