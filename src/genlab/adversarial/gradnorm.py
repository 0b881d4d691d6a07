"""Gradient normalization: a critic made piecewise K-Lipschitz by dividing by its input-gradient norm.

For a piecewise-linear (ReLU) critic f, grad f is constant inside each linear region, so dividing f
by ||grad f|| bounds the slope there (https://kexue.fm/archives/8757). It is only *piecewise*
K-Lipschitz: where grad f changes between regions the normalised critic can jump, so it is not
Lipschitz globally (GraN-GAN, arXiv:2111.03162, sec. 3). The two papers guard the division
differently:

* GN-GAN (Wu et al. 2021, arXiv:2109.02235, eq. 9):  f / (||grad f|| + |f|), bounded in [-1, 1];
* GraN-GAN (Bhaskara et al. 2022, arXiv:2111.03162): K f ||grad f|| / (||grad f||^2 + eps).

The normalised critic is what the loss sees in BOTH the critic and the generator step (as in the
official GN-GAN code), so second-order gradients are needed in both.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from genlab.core.checks import choice

GradNormName = Literal["none", "gn", "gran"]  # "none": no gradient normalization
GRAD_NORM_MODES = ("gn", "gran")


class GradNormCritic(nn.Module):
    """Wraps any per-example critic; `forward` returns the normalised score, shape (B,).

    Needs per-example gradients, so the wrapped critic must not mix examples (no batch norm).
    `eps` guards the f = 0, grad f = 0 corner (GN itself uses none); `k` is GraN's bound on the
    slope inside each linear region (ignored by `gn`, whose bound there is 1).
    """

    def __init__(self, critic: nn.Module, mode: str = "gn", eps: float = 1e-8, k: float = 1.0):
        super().__init__()
        choice(mode, GRAD_NORM_MODES, "gradient normalization")
        self.critic, self.mode, self.eps, self.k = critic, mode, eps, k

    def forward(self, x: Tensor) -> Tensor:
        with torch.enable_grad():
            # Data and detached fakes become leaves so we can differentiate w.r.t. them; a
            # generator output keeps its graph, so the generator loss reaches G through both f and
            # grad f.
            if not x.requires_grad:
                x = x.detach().requires_grad_(True)
            f = self.critic(x).flatten()
            # create_graph: the normalised score must itself be differentiable (double backprop).
            (g,) = torch.autograd.grad(f.sum(), x, create_graph=True)
            gn = (g.flatten(1).square().sum(1) + 1e-12).sqrt()
        if self.mode == "gn":
            return f / (gn + f.abs() + self.eps)
        return self.k * f * gn / (gn.square() + self.eps)


__all__ = ["GRAD_NORM_MODES", "GradNormCritic", "GradNormName"]
