"""A small PixelCNN over a grid of discrete codes: masked convolutions, raster-order factorisation.

van den Oord, Kalchbrenner & Kavukcuoglu, "Pixel Recurrent Neural Networks", ICML 2016
(arXiv:1601.06759), sec. 3.5: p(k) = prod_i p(k_i | k_<i) in raster order, each conditional a
softmax over the K codes, computed for all positions at once by convolutions whose kernels are
masked so position i never sees positions >= i (mask A, first layer) or > i (mask B, later layers).
VQ-VAE (arXiv:1711.00937, sec. 3.3) fits such a prior to the code grids of the trained encoder.
(The plain masked stack has the known "blind spot" above-right; fine for small grids.)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.core.checks import check_int


class MaskedConv2d(nn.Conv2d):
    """A 'same' conv whose kernel sees only the rows above and the pixels to the left in the
    current row; mask 'B' also sees the centre (the position itself, via earlier layers)."""

    def __init__(self, ch_in: int, ch_out: int, kernel: int, mask: str):
        if kernel % 2 == 0:
            raise ValueError(f"masked convolutions need an odd kernel size, got {kernel}")
        super().__init__(ch_in, ch_out, kernel, padding=kernel // 2)
        m = torch.ones(kernel, kernel)
        c = kernel // 2
        m[c, c + (mask == "B"):] = 0
        m[c + 1:] = 0
        self.register_buffer("mask", m, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class MaskedResBlock(nn.Module):
    """ReLU, masked 3x3 conv (B), ReLU, 1x1 conv, plus the input: causal, since 1x1 convs are."""

    def __init__(self, ch: int):
        super().__init__()
        self.net = nn.Sequential(nn.ReLU(), MaskedConv2d(ch, ch, 3, "B"), nn.ReLU(), nn.Conv2d(ch, ch, 1))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.net(x)


class PixelCNN(nn.Module):
    """Autoregressive distribution over (h, w) grids of K codes."""

    def __init__(self, codes: int, hidden: int = 64, layers: int = 4, kernel: int = 5):
        super().__init__()
        for name, value, low in (("codes", codes, 1), ("hidden", hidden, 1), ("layers", layers, 0),
                                 ("kernel", kernel, 1)):
            check_int(f"model.{name}", value, low)
        self.codes = codes
        self.embed = nn.Embedding(codes, hidden)
        self.body = nn.Sequential(MaskedConv2d(hidden, hidden, kernel, "A"),
                                  *[MaskedResBlock(hidden) for _ in range(layers)],
                                  nn.ReLU(), nn.Conv2d(hidden, codes, 1))

    def logits(self, grid: Tensor) -> Tensor:
        """(B, h, w) codes -> (B, K, h, w) logits of p(k_i | k_<i) at every position i."""
        return self.body(self.embed(grid).movedim(-1, 1))

    def log_prob(self, grid: Tensor) -> Tensor:
        """log p(grid) per example (nats): the sum of the raster-order conditionals."""
        return -F.cross_entropy(self.logits(grid), grid, reduction="none").flatten(1).sum(1)

    @torch.no_grad()
    def sample(self, n: int, size: tuple[int, int], device: torch.device) -> Tensor:
        """n grids drawn position by position in raster order (h w forward passes)."""
        h, w = size
        grid = torch.zeros(n, h, w, dtype=torch.long, device=device)
        for i in range(h):
            for j in range(w):
                probs = self.logits(grid)[:, :, i, j].softmax(1)
                grid[:, i, j] = torch.multinomial(probs, 1).squeeze(1)
        return grid
