"""DCGAN-style conv stacks for 8x8, 28x28 and 32x32 images, and the encoder/decoder built on them.

Radford et al. 2016, arXiv:1511.06434: 4x4 stride-2 (transposed) convs halve/double the size while the
channel count doubles/halves. The same stacks serve the VAE (plain layout) and the DCGAN nets (with a
norm slot, `genlab.nets.dcgan`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from torch import Tensor, nn

from genlab.core.errors import ConfigError
from genlab.nets.norm import Norm, Output, norm_layer, output_layer

Act = Callable[[], nn.Module]


def downsample_plan(size: int) -> tuple[int, int]:
    """(number of stride-2 halvings, final size): halve while even and larger than 4."""
    n = 0
    while size % 2 == 0 and size > 4:
        size, n = size // 2, n + 1
    return n, size


def square_image(shape: tuple[int, ...], who: str) -> tuple[int, int, int]:
    """`shape` as (C, H, H), or a ConfigError (a ValueError) naming `who`."""
    if len(shape) != 3 or shape[1] != shape[2]:
        raise ConfigError(f"{who} needs square images (C, H, H), got example shape {tuple(shape)}")
    return shape  # type: ignore[return-value]


def _block(conv: nn.Module, ch: int, act: Act, norm: Norm | None) -> list[nn.Module]:
    # norm=None: no slot at all, so parameter indices match checkpoints of the plain layout
    return [conv, act()] if norm is None else [conv, norm_layer(norm, ch), act()]


def down_layers(c: int, base: int, n: int, act: Act = nn.ReLU,
                norm: Norm | None = None) -> tuple[list[nn.Module], int]:
    """Conv 3x3 (c -> base), act, then n x [Conv 4x4 stride 2 doubling channels, (norm), act].

    Returns the layers and the final channel count.
    """
    layers: list[nn.Module] = [nn.Conv2d(c, base, 3, padding=1), act()]
    ch = base
    for _ in range(n):
        layers += _block(nn.Conv2d(ch, ch * 2, 4, stride=2, padding=1), ch * 2, act, norm)
        ch *= 2
    return layers, ch


def up_layers(ch: int, c: int, n: int, act: Act = nn.ReLU, norm: Norm | None = None) -> list[nn.Module]:
    """n x [ConvT 4x4 stride 2 halving channels, (norm), act], then Conv 3x3 (-> c)."""
    layers: list[nn.Module] = []
    for _ in range(n):
        layers += _block(nn.ConvTranspose2d(ch, ch // 2, 4, stride=2, padding=1), ch // 2, act, norm)
        ch //= 2
    layers.append(nn.Conv2d(ch, c, 3, padding=1))
    return layers


class ConvEncoder(nn.Module):
    """(C, H, W) image -> vector of `n_out`: stride-2 4x4 convs, channel count doubling."""

    def __init__(self, shape: tuple[int, int, int], n_out: int, base: int = 32, act: Act = nn.ReLU):
        super().__init__()
        c, h, _ = square_image(shape, "ConvEncoder")
        n, final = downsample_plan(h)
        layers, ch = down_layers(c, base, n, act)
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(ch * final * final, n_out)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x).flatten(1))


class ConvDecoder(nn.Module):
    """Vector -> (C, H, W): a linear map to a small feature map, then stride-2 transposed convs.

    `norm` (a `genlab.nets.norm` name) adds a norm after the linear map and each transposed conv;
    `output` adds a final activation. Both default to the plain VAE layout.
    """

    def __init__(self, n_in: int, shape: tuple[int, int, int], base: int = 32, act: Act = nn.ReLU,
                 norm: Norm | None = None, output: Output | None = None):
        super().__init__()
        c, h, _ = square_image(shape, "ConvDecoder")
        n, final = downsample_plan(h)
        ch = base * 2**n
        self.start = (ch, final, final)
        head: list[nn.Module] = [nn.Linear(n_in, math.prod(self.start))]
        if norm is not None:
            head.append(norm_layer(norm, math.prod(self.start), feature=True))
        self.head = nn.Sequential(*head, act())
        layers = up_layers(ch, c, n, act, norm)
        if output is not None:
            layers.append(output_layer(output))
        self.body = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.body(self.head(z).view(-1, *self.start))
