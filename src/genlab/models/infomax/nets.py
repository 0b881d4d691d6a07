"""Deep InfoMax networks: a conv encoder that exposes its local feature map, and the two critics.

Layout of the reference code for https://kexue.fm/archives/6024 (`bojone/infomax`), scaled by config:
`channels` blocks of [Conv 3x3, BatchNorm, LeakyReLU(0.2), MaxPool 2] give the local map C (B, c, h, w);
`global_layers` x [Conv 3x3, BatchNorm, LeakyReLU(0.2)] and a global max-pool give the global feature,
read by linear heads for the mean and log-variance of the Gaussian code.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genlab.core.errors import ConfigError
from genlab.nets import mlp


def _conv_block(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)]


class InfoMaxEncoder(nn.Module):
    """Image (B, C, H, W) -> local map (B, channels[-1], H / 2^k, W / 2^k), global feature
    (B, global_channels), code mean and log-variance (B, latent_dim) each."""

    def __init__(self, shape: tuple[int, ...], channels: tuple[int, ...], global_channels: int,
                 global_layers: int, latent_dim: int):
        super().__init__()
        c, h, w = shape
        if min(h, w) < 2 ** len(channels):
            raise ConfigError(f"model.channels has {len(channels)} pooling blocks, too many for "
                              f"{h}x{w} images (each halves the size; at most {min(h, w).bit_length() - 1})")
        layers: list[nn.Module] = []
        for ch in channels:
            layers += [*_conv_block(c, ch), nn.MaxPool2d(2)]
            c = ch
        self.local = nn.Sequential(*layers)
        layers = []
        for _ in range(global_layers):
            layers += _conv_block(c, global_channels)
            c = global_channels
        self.trunk = nn.Sequential(*layers, nn.AdaptiveMaxPool2d(1), nn.Flatten())
        self.local_channels, self.global_features = channels[-1], c
        self.mean = nn.Linear(c, latent_dim)
        self.log_var = nn.Linear(c, latent_dim)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(local map, global feature, code mean, code log-variance)."""
        local = self.local(x)
        feature = self.trunk(local)
        return local, feature, self.mean(feature), self.log_var(feature)


class PairCritic(nn.Module):
    """Raw score of a pair of vectors: an MLP on their concatenation along the last dimension.

    On channel-last maps (B, h, w, d) it scores each position alone, i.e. it is the 1x1-conv local
    critic of Deep InfoMax's concat-and-convolve architecture (arXiv:1808.06670)."""

    def __init__(self, d_a: int, d_b: int, hidden: int, depth: int):
        super().__init__()
        self.net = mlp(d_a + d_b, 1, hidden, depth)

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        return self.net(torch.cat([a, b], dim=-1)).squeeze(-1)
