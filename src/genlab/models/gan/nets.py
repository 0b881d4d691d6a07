"""Generator and critic networks: MLPs for 2-D toys, DCGAN-style and ResNet conv nets for images.

* MLP: ReLU generator and critic (the WGAN-GP toy setup, Gulrajani et al. 2017, arXiv:1704.00028).
* DCGAN (Radford et al. 2016, arXiv:1511.06434): the generator maps z to a small feature map and
  doubles its size with 4x4 stride-2 transposed convs (batch norm + ReLU); the critic mirrors it
  with stride-2 convs and LeakyReLU(0.2). Works for 8x8, 28x28 and 32x32 (halve while even and > 4).
* ResNet (arXiv:1704.00028 appendix F; Miyato et al. 2018, arXiv:1802.05957 appendix B): up/down
  residual blocks as in the CIFAR-10 (32x32) models; also any size with at least two halvings.

Critics return one score per example, shape (B,). Batch norm mixes the examples of a batch, so it
is refused in critics whose loss uses per-example input gradients (GP, R1, finite differences, GN);
use `norm: layer` (a per-example LayerNorm over C, H, W) instead, as the WGAN-GP paper does.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from genlab.core.checks import choice
from genlab.core.errors import ConfigError
from genlab.nets.conv import downsample_plan

NETS = ("mlp", "dcgan", "resnet")
NORMS = ("none", "layer", "batch")
OUTPUTS = ("none", "tanh", "sigmoid")


def _norm(kind: str, ch: int, feature: bool = False) -> nn.Module:
    """Normalisation layer: `feature` for (B, ch) vectors, else for (B, ch, H, W) maps."""
    if kind == "none":
        return nn.Identity()
    if kind == "batch":
        return nn.BatchNorm1d(ch) if feature else nn.BatchNorm2d(ch)
    if kind == "layer":
        return nn.LayerNorm(ch) if feature else nn.GroupNorm(1, ch)  # per example over C, H, W
    choice(kind, NORMS, "normalisation")
    raise AssertionError(kind)


def _output(kind: str) -> nn.Module:
    if kind == "none":
        return nn.Identity()
    if kind == "tanh":
        return nn.Tanh()
    if kind == "sigmoid":
        return nn.Sigmoid()
    choice(kind, OUTPUTS, "generator output")
    raise AssertionError(kind)


class Scores(nn.Module):
    """Flattens a critic head's (B, 1) output to (B,)."""

    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x).flatten()


# ---------------------------------------------------------------------- MLP
class MLPGenerator(nn.Module):
    """z -> `depth` ReLU layers of width `hidden` -> an example of `shape`."""

    def __init__(self, latent_dim: int, shape: tuple[int, ...], hidden: int = 512, depth: int = 3,
                 norm: str = "none", output: str = "none"):
        super().__init__()
        self.shape = tuple(shape)
        layers: list[nn.Module] = []
        width = latent_dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), _norm(norm, hidden, feature=True), nn.ReLU()]
            width = hidden
        layers += [nn.Linear(width, math.prod(shape)), _output(output)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).view(-1, *self.shape)


def mlp_critic(shape: tuple[int, ...], hidden: int = 512, depth: int = 3, norm: str = "none") -> Scores:
    """Flatten -> `depth` ReLU layers of width `hidden` -> one score per example."""
    layers: list[nn.Module] = [nn.Flatten()]
    width = math.prod(shape)
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), _norm(norm, hidden, feature=True), nn.ReLU()]
        width = hidden
    layers.append(nn.Linear(width, 1))
    return Scores(nn.Sequential(*layers))


# ---------------------------------------------------------------------- DCGAN
def _image_shape(shape: tuple[int, ...], net: str) -> tuple[int, int, int]:
    if len(shape) != 3 or shape[1] != shape[2]:
        raise ConfigError(f"model.net={net} needs square images (C, H, H), got example shape {shape}")
    return shape  # type: ignore[return-value]


class DCGANGenerator(nn.Module):
    """z -> Linear -> (base * 2^n, s, s) -> n x [ConvT 4x4 stride 2, norm, ReLU] -> Conv 3x3 -> out."""

    def __init__(self, latent_dim: int, shape: tuple[int, ...], base: int = 64, norm: str = "batch",
                 output: str = "tanh"):
        super().__init__()
        c, h, _ = _image_shape(shape, "dcgan")
        n, s = downsample_plan(h)
        ch = base * 2**n
        self.start = (ch, s, s)
        self.head = nn.Sequential(nn.Linear(latent_dim, ch * s * s), _norm(norm, ch * s * s, True),
                                  nn.ReLU())
        layers: list[nn.Module] = []
        for _ in range(n):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, stride=2, padding=1), _norm(norm, ch // 2),
                       nn.ReLU()]
            ch //= 2
        layers += [nn.Conv2d(ch, c, 3, padding=1), _output(output)]
        self.body = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.body(self.head(z).view(-1, *self.start))


def dcgan_critic(shape: tuple[int, ...], base: int = 64, norm: str = "none") -> Scores:
    """Conv 3x3 -> n x [Conv 4x4 stride 2, norm, LeakyReLU(0.2)] -> Linear -> score."""
    c, h, _ = _image_shape(shape, "dcgan")
    n, s = downsample_plan(h)
    layers: list[nn.Module] = [nn.Conv2d(c, base, 3, padding=1), nn.LeakyReLU(0.2)]
    ch = base
    for _ in range(n):
        layers += [nn.Conv2d(ch, ch * 2, 4, stride=2, padding=1), _norm(norm, ch * 2), nn.LeakyReLU(0.2)]
        ch *= 2
    layers += [nn.Flatten(), nn.Linear(ch * s * s, 1)]
    return Scores(nn.Sequential(*layers))


# ---------------------------------------------------------------------- ResNet
class UpBlock(nn.Module):
    """Pre-activation residual block that doubles the resolution (nearest upsampling)."""

    def __init__(self, ch_in: int, ch_out: int, norm: str = "batch"):
        super().__init__()
        self.main = nn.Sequential(
            _norm(norm, ch_in), nn.ReLU(), nn.Upsample(scale_factor=2),
            nn.Conv2d(ch_in, ch_out, 3, padding=1), _norm(norm, ch_out), nn.ReLU(),
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


def _resnet_plan(h: int) -> tuple[int, int]:
    n, s = downsample_plan(h)
    if n < 2:
        raise ConfigError(f"model.net=resnet needs images of at least 16x16 (two halvings), got {h}x{h}")
    return n, s


class ResNetGenerator(nn.Module):
    """z -> Linear -> (ch, s, s) -> n UpBlocks -> norm, ReLU, Conv 3x3 -> out (32x32: s=4, n=3)."""

    def __init__(self, latent_dim: int, shape: tuple[int, ...], ch: int = 128, norm: str = "batch",
                 output: str = "tanh"):
        super().__init__()
        c, h, _ = _image_shape(shape, "resnet")
        n, s = _resnet_plan(h)
        self.start = (ch, s, s)
        self.head = nn.Linear(latent_dim, ch * s * s)
        self.body = nn.Sequential(*[UpBlock(ch, ch, norm) for _ in range(n)], _norm(norm, ch),
                                  nn.ReLU(), nn.Conv2d(ch, c, 3, padding=1), _output(output))

    def forward(self, z: Tensor) -> Tensor:
        return self.body(self.head(z).view(-1, *self.start))


class ResNetCritic(nn.Module):
    """Optimized down block, down blocks to 1/4 of the size, two plain blocks, ReLU, global sum
    pooling, Linear (the SN-GAN/WGAN-GP CIFAR critic: 32 -> 16 -> 8 -> 8 -> 8). No normalisation."""

    def __init__(self, shape: tuple[int, ...], ch: int = 128):
        super().__init__()
        c, h, _ = _image_shape(shape, "resnet")
        n, _ = _resnet_plan(h)
        blocks = [DownBlock(c, ch, first=True)] + [DownBlock(ch, ch) for _ in range(n - 2)]
        blocks += [DownBlock(ch, ch, down=False), DownBlock(ch, ch, down=False)]
        self.blocks = nn.Sequential(*blocks, nn.ReLU())
        self.head = nn.Linear(ch, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.blocks(x).sum((2, 3))).flatten()


# ---------------------------------------------------------------------- factory
def build_nets(net: str, latent_dim: int, shape: tuple[int, ...], hidden: int, depth: int,
               generator_norm: str, critic_norm: str, output: str) -> tuple[nn.Module, nn.Module]:
    """(generator, critic) of family `net`; `hidden` is the MLP width or the conv base channels."""
    if net == "mlp":
        return (MLPGenerator(latent_dim, shape, hidden, depth, generator_norm, output),
                mlp_critic(shape, hidden, depth, critic_norm))
    if net == "dcgan":
        return (DCGANGenerator(latent_dim, shape, hidden, generator_norm, output),
                dcgan_critic(shape, hidden, critic_norm))
    if net == "resnet":
        if critic_norm != "none":
            raise ConfigError("model.net=resnet has a normalisation-free critic; set critic_norm: none")
        return ResNetGenerator(latent_dim, shape, hidden, generator_norm, output), ResNetCritic(shape, hidden)
    choice(net, NETS, "model.net")
    raise AssertionError(net)


__all__ = ["NETS", "NORMS", "OUTPUTS", "DCGANGenerator", "DownBlock", "MLPGenerator", "ResNetCritic",
           "ResNetGenerator", "Scores", "UpBlock", "build_nets", "dcgan_critic", "mlp_critic"]
