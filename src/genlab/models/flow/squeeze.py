"""Squeeze: (C, H, W) -> (4C, H/2, W/2) by folding each 2x2 spatial block into channels.

RealNVP (arXiv:1605.08803, sec. 3.6, fig. 3) uses it to trade resolution for channels, so channel-wise
couplings and 1x1 convolutions can mix spatial neighbours. Output channel 4c + 2i + j holds pixel
(i, j) of each block of input channel c (RealNVP's / normflows' order; Glow's code puts c last,
which differs by a fixed permutation). A permutation of coordinates: log-det 0.
"""

from __future__ import annotations

from torch import Tensor

from genlab.models.flow.base import Bijection, wide


class Squeeze(Bijection):
    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if x.dim() != 4:
            raise ValueError(f"Squeeze needs image batches (B, C, H, W), got shape {tuple(x.shape)}")
        b, c, h, w = x.shape
        if h % 2 or w % 2:
            raise ValueError(
                f"Squeeze needs even height and width, got {h}x{w}: use fewer levels (each level "
                "halves the size) or pad/resize the images"
            )
        y = x.reshape(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
        return y.reshape(b, 4 * c, h // 2, w // 2), wide(x.new_zeros(b))

    def inverse(self, y: Tensor) -> Tensor:
        if y.dim() != 4 or y.shape[1] % 4:
            raise ValueError(f"Squeeze.inverse needs (B, 4C, H, W), got shape {tuple(y.shape)}")
        b, c4, h, w = y.shape
        x = y.reshape(b, c4 // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)
        return x.reshape(b, c4 // 4, 2 * h, 2 * w)
