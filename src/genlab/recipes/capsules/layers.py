"""Matrix-capsule layers (Hinton, Sabour & Frosst 2018, section 3): primary, convolutional and class capsules.

A capsule layer's output is a pose tensor (B, H, W, T, 4, 4) and an activation tensor (B, H, W, T) for T
capsule types on an H x W grid. Votes are pose @ W_ij with learned 4x4 transforms W_ij, routed by EM.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.core.checks import check_int, choice
from genlab.recipes.capsules.routing import COST_NORMS, CostNorm, em_routing

POSE = 16  # a 4 x 4 pose matrix, flattened


class PrimaryCaps(nn.Module):
    """A 1x1 convolution from feature maps to T capsules per position: 16 pose entries and a sigmoid
    activation each."""

    def __init__(self, in_channels: int, types: int):
        super().__init__()
        check_int("types", types, 1)
        self.types = types
        self.pose = nn.Conv2d(in_channels, types * POSE, 1)
        self.activation = nn.Conv2d(in_channels, types, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        b, _, h, w = x.shape
        pose = self.pose(x).view(b, self.types, 4, 4, h, w).permute(0, 4, 5, 1, 2, 3)
        a = torch.sigmoid(self.activation(x)).permute(0, 2, 3, 1)
        return pose.contiguous(), a.contiguous()


class _Routed(nn.Module):
    """Shared parts of the routed layers: learned 4x4 transforms, per-type beta_u and beta_a, and the
    EM options."""

    def __init__(self, n_in: int, out_types: int, iterations: int, lam_min: float, lam_max: float,
                 cost_norm: CostNorm):
        super().__init__()
        check_int("iterations", iterations, 1)
        self.out_types, self.iterations, self.lams = out_types, iterations, (lam_min, lam_max)
        self.cost_norm = choice(cost_norm, COST_NORMS, "cost_norm")
        # identity plus noise: votes start close to the input poses, and differ per output for routing
        self.transform = nn.Parameter(torch.eye(4).expand(n_in, out_types, 4, 4)
                                      + 0.5 * torch.randn(n_in, out_types, 4, 4))
        self.beta_u = nn.Parameter(torch.zeros(out_types))
        self.beta_a = nn.Parameter(torch.zeros(out_types))

    def route(self, votes: Tensor, a_in: Tensor) -> tuple[Tensor, Tensor]:
        out = em_routing(votes.flatten(-2), a_in, self.beta_u, self.beta_a, self.iterations, *self.lams,
                         self.cost_norm)
        return out.pose.unflatten(-1, (4, 4)), out.activation


class ConvCaps(_Routed):
    """Capsule convolution: each output position routes the K x K x T_in capsules under its window.

    Routing is per window (a lower capsule's assignments are normalised over the parents of one window,
    not over all windows that contain it), the usual simplification of the paper's overlapping routing.
    """

    def __init__(self, in_types: int, out_types: int, kernel: int = 3, stride: int = 1, iterations: int = 3,
                 lam_min: float = 0.25, lam_max: float = 1.0, cost_norm: CostNorm = "standardise"):
        check_int("kernel", kernel, 1)
        check_int("stride", stride, 1)
        super().__init__(kernel * kernel * in_types, out_types, iterations, lam_min, lam_max, cost_norm)
        self.kernel, self.stride = kernel, stride

    def forward(self, pose: Tensor, a: Tensor) -> tuple[Tensor, Tensor]:
        b, h, w, t = a.shape
        k = self.kernel
        ho, wo = (h - k) // self.stride + 1, (w - k) // self.stride + 1
        if ho < 1 or wo < 1:
            raise ValueError(f"a {k}x{k} capsule convolution needs a grid of at least {k}x{k}, got {h}x{w}")
        # one channel per (type, pose entry or activation): unfold orders it (T, 17, K*K) per window
        grid = torch.cat([pose.flatten(-2), a.unsqueeze(-1)], -1).permute(0, 3, 4, 1, 2).reshape(b, -1, h, w)
        cols = F.unfold(grid, k, stride=self.stride).view(b, t, POSE + 1, k * k, ho * wo)
        cols = cols.permute(0, 4, 3, 1, 2).reshape(b, ho * wo, k * k * t, POSE + 1)
        p_in, a_in = cols[..., :POSE].unflatten(-1, (4, 4)), cols[..., POSE]
        votes = torch.einsum("bliac,ijcd->blijad", p_in, self.transform)  # (B, L, n_in, T_out, 4, 4)
        p_out, a_out = self.route(votes, a_in)
        return p_out.view(b, ho, wo, self.out_types, 4, 4), a_out.view(b, ho, wo, self.out_types)


class ClassCaps(_Routed):
    """One capsule per class, fed by every capsule of the layer below; transforms are shared across
    positions per input type, and each vote gets its position added (coordinate addition, section 3.1).
    """

    def __init__(self, in_types: int, n_classes: int, iterations: int = 3, lam_min: float = 0.25,
                 lam_max: float = 1.0, cost_norm: CostNorm = "standardise"):
        super().__init__(in_types, n_classes, iterations, lam_min, lam_max, cost_norm)

    def forward(self, pose: Tensor, a: Tensor) -> tuple[Tensor, Tensor]:
        b, h, w, t = a.shape
        votes = torch.einsum("bhwiac,ijcd->bhwijad", pose, self.transform)
        # scaled (row, column) of each position's centre into the right-hand column's first two entries
        rows = (torch.arange(h, device=a.device, dtype=pose.dtype) + 0.5) / h
        cols = (torch.arange(w, device=a.device, dtype=pose.dtype) + 0.5) / w
        offset = torch.zeros(h, w, 1, 1, 4, 4, device=a.device, dtype=pose.dtype)
        offset[..., 0, 3] = rows.view(h, 1, 1, 1)
        offset[..., 1, 3] = cols.view(1, w, 1, 1)
        votes = (votes + offset).reshape(b, h * w * t, self.out_types, 4, 4)
        return self.route(votes, a.reshape(b, h * w * t))
