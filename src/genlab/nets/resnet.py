"""ResNet generator and critic with residual up/down blocks, as in the CIFAR-10 (32x32) models of
WGAN-GP (arXiv:1704.00028, appendix F) and SN-GAN (Miyato et al. 2018, arXiv:1802.05957, appendix B);
any square size with at least two halvings works.
"""

from __future__ import annotations

from torch import Tensor, nn

from genlab.core.errors import ConfigError
from genlab.nets.conv import downsample_plan, square_image
from genlab.nets.norm import norm_layer, output_layer


class UpBlock(nn.Module):
    """Pre-activation residual block that doubles the resolution (nearest upsampling)."""

    def __init__(self, ch_in: int, ch_out: int, norm: str = "batch"):
        super().__init__()
        self.main = nn.Sequential(
            norm_layer(norm, ch_in), nn.ReLU(), nn.Upsample(scale_factor=2),
            nn.Conv2d(ch_in, ch_out, 3, padding=1), norm_layer(norm, ch_out), nn.ReLU(),
            nn.Conv2d(ch_out, ch_out, 3, padding=1))
        self.skip = nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(ch_in, ch_out, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.main(x) + self.skip(x)


class DownBlock(nn.Module):
    """Residual critic block, optionally halving the resolution (2x2 average pooling).

    `first` is the "optimized" input block of arXiv:1802.05957: no activation before its first conv.
    """

    def __init__(self, ch_in: int, ch_out: int, down: bool = True, first: bool = False):
        super().__init__()
        pool: nn.Module = nn.AvgPool2d(2) if down else nn.Identity()
        pre = [] if first else [nn.ReLU()]
        self.main = nn.Sequential(*pre, nn.Conv2d(ch_in, ch_out, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(ch_out, ch_out, 3, padding=1), pool)
        learn = down or ch_in != ch_out
        self.skip = (nn.Sequential(nn.Conv2d(ch_in, ch_out, 1), pool) if not first
                     else nn.Sequential(pool, nn.Conv2d(ch_in, ch_out, 1))) if learn else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.main(x) + self.skip(x)


def resnet_plan(shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """(C, H, number of halvings, final size) of a square image shape with at least two halvings."""
    c, h, _ = square_image(shape, "model.net=resnet")
    n, s = downsample_plan(h)
    if n < 2:
        raise ConfigError(f"model.net=resnet needs images of at least 16x16 (two halvings), got {h}x{h}")
    return c, h, n, s


class ResNetGenerator(nn.Module):
    """z -> Linear -> (ch, s, s) -> n UpBlocks -> norm, ReLU, Conv 3x3 -> out (32x32: s=4, n=3)."""

    def __init__(self, latent_dim: int, shape: tuple[int, ...], ch: int = 128, norm: str = "batch",
                 output: str = "tanh"):
        super().__init__()
        c, _, n, s = resnet_plan(shape)
        self.start = (ch, s, s)
        self.head = nn.Linear(latent_dim, ch * s * s)
        self.body = nn.Sequential(*[UpBlock(ch, ch, norm) for _ in range(n)], norm_layer(norm, ch),
                                  nn.ReLU(), nn.Conv2d(ch, c, 3, padding=1), output_layer(output))

    def forward(self, z: Tensor) -> Tensor:
        return self.body(self.head(z).view(-1, *self.start))


class ResNetCritic(nn.Module):
    """Optimized down block, down blocks to 1/4 of the size, two plain blocks, ReLU, global sum
    pooling, Linear (the SN-GAN/WGAN-GP CIFAR critic: 32 -> 16 -> 8 -> 8 -> 8). No normalisation."""

    def __init__(self, shape: tuple[int, ...], ch: int = 128):
        super().__init__()
        c, _, n, _ = resnet_plan(shape)
        blocks = [DownBlock(c, ch, first=True)] + [DownBlock(ch, ch) for _ in range(n - 2)]
        blocks += [DownBlock(ch, ch, down=False), DownBlock(ch, ch, down=False)]
        self.blocks = nn.Sequential(*blocks, nn.ReLU())
        self.head = nn.Linear(ch, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.blocks(x).sum((2, 3))).flatten()
