"""DCGAN generator and critic (Radford et al. 2016, arXiv:1511.06434) on the shared conv stacks.

The generator is `ConvDecoder` with batch norm, ReLU and tanh; the critic mirrors it with stride-2 convs
and LeakyReLU(0.2). Any square size is handled by halving while even and > 4 (8x8, 28x28, 32x32).
"""

from __future__ import annotations

from functools import partial

from torch import nn

from genlab.nets.conv import ConvDecoder, down_layers, downsample_plan, square_image
from genlab.nets.scores import Scores


class DCGANGenerator(ConvDecoder):
    """z -> Linear, norm, ReLU -> (base * 2^n, s, s) -> n x [ConvT 4x4 stride 2, norm, ReLU] -> Conv 3x3
    -> output layer."""

    def __init__(self, latent_dim: int, shape: tuple[int, ...], base: int = 64, norm: str = "batch",
                 output: str = "tanh"):
        super().__init__(latent_dim, square_image(shape, "model.net=dcgan"), base, nn.ReLU, norm, output)


def dcgan_critic(shape: tuple[int, ...], base: int = 64, norm: str = "none") -> Scores:
    """Conv 3x3 -> n x [Conv 4x4 stride 2, norm, LeakyReLU(0.2)] -> Linear -> one score per example."""
    c, h, _ = square_image(shape, "model.net=dcgan")
    n, s = downsample_plan(h)
    layers, ch = down_layers(c, base, n, partial(nn.LeakyReLU, 0.2), norm)
    return Scores(nn.Sequential(*layers, nn.Flatten(), nn.Linear(ch * s * s, 1)))
