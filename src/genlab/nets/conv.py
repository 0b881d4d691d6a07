"""Small convolutional encoders/decoders for 8x8, 28x28 and 32x32 images (DCGAN-style)."""

from __future__ import annotations

import math

from torch import Tensor, nn


def downsample_plan(size: int) -> tuple[int, int]:
    """(number of stride-2 halvings, final size): halve while even and larger than 4."""
    n = 0
    while size % 2 == 0 and size > 4:
        size, n = size // 2, n + 1
    return n, size


class ConvEncoder(nn.Module):
    """(C, H, W) image -> vector of `n_out`: stride-2 4x4 convs, channel count doubling."""

    def __init__(self, shape: tuple[int, int, int], n_out: int, base: int = 32,
                 act: type[nn.Module] = nn.ReLU):
        super().__init__()
        c, h, w = shape
        if h != w:
            raise ValueError(f"square images only, got {h}x{w}")
        n, final = downsample_plan(h)
        layers: list[nn.Module] = [nn.Conv2d(c, base, 3, padding=1), act()]
        ch = base
        for _ in range(n):
            layers += [nn.Conv2d(ch, ch * 2, 4, stride=2, padding=1), act()]
            ch *= 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(ch * final * final, n_out)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x).flatten(1))


class ConvDecoder(nn.Module):
    """Vector -> (C, H, W): a linear map to a small feature map, then stride-2 transposed convs."""

    def __init__(self, n_in: int, shape: tuple[int, int, int], base: int = 32,
                 act: type[nn.Module] = nn.ReLU):
        super().__init__()
        c, h, _ = shape
        n, final = downsample_plan(h)
        ch = base * 2**n
        self.start = (ch, final, final)
        self.head = nn.Sequential(nn.Linear(n_in, math.prod(self.start)), act())
        layers: list[nn.Module] = []
        for _ in range(n):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, stride=2, padding=1), act()]
            ch //= 2
        layers.append(nn.Conv2d(ch, c, 3, padding=1))
        self.body = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.body(self.head(z).view(-1, *self.start))
