"""VQ-VAE encoder and decoder: strided convs plus residual blocks (arXiv:1711.00937, sec. 4.1).

The paper's image nets: two stride-2 4x4 convs, then two residual blocks, then the code map; the
decoder mirrors it with transposed convs. Here the strided stacks are genlab's DCGAN stacks
(`genlab.nets.down_layers` / `up_layers`, channels doubling per halving) and the residual blocks are
`genlab.nets.DownBlock` without downsampling (ReLU, 3x3 conv, ReLU, 3x3 conv, identity skip; the
paper's second conv is 1x1).
"""

from __future__ import annotations

from torch import Tensor, nn

from genlab.core.errors import ConfigError
from genlab.nets import DownBlock, down_layers, up_layers


def check_grid(shape: tuple[int, ...], downsample: int) -> tuple[int, int]:
    """The code grid (H / 2^n, W / 2^n) of images `shape` (C, H, W), or a ConfigError."""
    f = 2**downsample
    if shape[1] % f or shape[2] % f:
        raise ConfigError(f"model.downsample={downsample}: image size {shape[1]}x{shape[2]} is not "
                          f"divisible by {f}")
    return shape[1] // f, shape[2] // f


class VQEncoder(nn.Module):
    """(C, H, W) image -> (dim, H / 2^n, W / 2^n) map of pre-quantisation vectors."""

    def __init__(self, channels: int, dim: int, hidden: int, downsample: int, res_blocks: int):
        super().__init__()
        layers, ch = down_layers(channels, hidden // 2**downsample, downsample)
        self.net = nn.Sequential(*layers, *[DownBlock(ch, ch, down=False) for _ in range(res_blocks)],
                                 nn.ReLU(), nn.Conv2d(ch, dim, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class VQDecoder(nn.Module):
    """(dim, h, w) quantised map -> (C, h 2^n, w 2^n): Gaussian means or Bernoulli logits."""

    def __init__(self, channels: int, dim: int, hidden: int, downsample: int, res_blocks: int):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(dim, hidden, 3, padding=1),
                                 *[DownBlock(hidden, hidden, down=False) for _ in range(res_blocks)],
                                 nn.ReLU(), *up_layers(hidden, channels, downsample))

    def forward(self, z_q: Tensor) -> Tensor:
        return self.net(z_q)
