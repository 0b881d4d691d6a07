"""Invertible 1x1 convolution (Glow, arXiv:1807.03039, sec. 3.2), LU-parameterised.

A learned C x C matrix W mixes the channels at every pixel (a learned generalisation of the fixed
permutations of NICE/RealNVP); log-det = H*W*log|det W|. With the LU form
W = P L (U + diag(sign(s) * exp(log|s|))) -- P a fixed permutation, L unit lower triangular, U strictly
upper triangular -- log|det W| = sum(log|s|) costs O(C) instead of O(C^3). W starts as a random
rotation (orthogonal, so log-det 0). On vectors (B, D) it is an invertible linear layer.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genlab.models.flow.base import Bijection, check_channels, wide


class InvConv1x1(Bijection):
    """y = W x over the channel dimension; `lu=False` keeps a dense W and uses slogdet instead."""

    def __init__(self, channels: int, lu: bool = True):
        super().__init__()
        self.channels, self.lu = channels, lu
        w = torch.linalg.qr(torch.randn(channels, channels))[0]
        if not lu:
            self.weight = nn.Parameter(w)
            return
        p, lower, upper = torch.linalg.lu(w)
        s = torch.diagonal(upper)
        self.register_buffer("perm", p)
        self.register_buffer("sign_s", torch.sign(s))
        self.register_buffer("lower_mask", torch.tril(torch.ones(channels, channels), -1))
        self.register_buffer("eye", torch.eye(channels))
        self.lower = nn.Parameter(lower * self.lower_mask)
        self.upper = nn.Parameter(torch.triu(upper, 1))
        self.log_s = nn.Parameter(torch.log(torch.abs(s)))

    def weight_matrix(self) -> Tensor:
        if not self.lu:
            return self.weight
        lower = self.lower * self.lower_mask + self.eye
        upper = self.upper * self.lower_mask.T + torch.diag(self.sign_s * torch.exp(self.log_s))
        return self.perm @ lower @ upper

    def log_abs_det(self) -> Tensor:
        if self.lu:
            return wide(self.log_s).sum()
        return torch.linalg.slogdet(wide(self.weight))[1]

    @staticmethod
    def _mix(w: Tensor, x: Tensor) -> Tensor:
        return torch.einsum("ij,bj...->bi...", w.to(x.dtype), x)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        check_channels(x, self.channels, "InvConv1x1")
        spatial = x[0, 0].numel()
        return self._mix(self.weight_matrix(), x), (spatial * self.log_abs_det()).expand(x.shape[0])

    def inverse(self, y: Tensor) -> Tensor:
        check_channels(y, self.channels, "InvConv1x1")
        w_inv = torch.linalg.inv(self.weight_matrix().double())  # float64: W may be ill-conditioned
        return self._mix(w_inv, y)
