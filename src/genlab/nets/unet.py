"""A small time-conditioned U-Net for images (the network of DDPM, Ho et al. 2020, arXiv:2006.11239,
appendix B, scaled down; PixelCNN++-style residual blocks with the time embedding added in each).

Layout, for `mults = (m_0, ..., m_{L-1})` and `blocks` residual blocks per level:
conv_in -> for each level: `blocks` x ResBlock(base * m_i), then a stride-2 conv (not after the
last level) -> middle: ResBlock, self-attention (optional), ResBlock -> for each level, lowest
first: `blocks + 1` x ResBlock on [h, skip] (every down-path activation is a skip, as in DDPM),
then nearest upsampling + conv (not after the top level) -> GroupNorm, SiLU, conv_out.

Odd sizes: the stride-2 convolutions (kernel 3, padding 1) take n to ceil(n / 2) (28 -> 14 -> 7 -> 4,
8 -> 4 -> 2), and each upsampling interpolates to the exact size of the skip it meets next, so
every size works without padding or cropping.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.core.checks import check_int
from genlab.core.errors import ConfigError
from genlab.nets.time_embedding import TimeEmbedding, TimeKind, batch_times


class ResBlock(nn.Module):
    """GroupNorm, SiLU, conv; + Linear(time embedding) per channel; GroupNorm, SiLU, dropout, conv;
    plus the input (through a 1x1 conv when the width changes)."""

    def __init__(self, c_in: int, c_out: int, time_dim: int, groups: int, dropout: float = 0.0):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.time = nn.Linear(time_dim, c_out)
        self.norm2 = nn.GroupNorm(groups, c_out)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor, temb: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time(F.silu(temb))[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.skip(x) + h


class SelfAttention(nn.Module):
    """Single-head self-attention over the H*W positions, residual (DDPM's attention block)."""

    def __init__(self, ch: int, groups: int):
        super().__init__()
        self.norm = nn.GroupNorm(groups, ch)
        self.qkv = nn.Conv2d(ch, 3 * ch, 1)
        self.out = nn.Conv2d(ch, ch, 1)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, c, h * w).transpose(-1, -2).unbind(1)
        a = F.scaled_dot_product_attention(q[:, None], k[:, None], v[:, None])[:, 0]  # (B, HW, C)
        return x + self.out(a.transpose(-1, -2).reshape(b, c, h, w))


class UNet(nn.Module):
    """forward(x (B, C, H, W), t (B,) or ()) -> (B, C, H, W); see the module docstring.

    `time_dim` (default 4 * base, as DDPM) is the width of the time MLP whose output every
    residual block projects and adds; `time` and `time_scale` pick the embedding of t
    (`TimeEmbedding`'s kind and scale). Every
    width base * m must be divisible by `groups` (GroupNorm).
    """

    def __init__(self, channels: int, base: int = 32, mults: Sequence[int] = (1, 2), blocks: int = 1,
                 attention: bool = True, groups: int = 8, time_dim: int | None = None,
                 time: TimeKind = "sinusoidal", time_scale: float | None = None, dropout: float = 0.0):
        super().__init__()
        check_int("unet channels", channels, 1)
        check_int("unet base", base, 1)
        check_int("unet blocks", blocks, 1)
        check_int("unet groups", groups, 1)
        mults = tuple(int(m) for m in mults)
        if not mults or min(mults) < 1:
            raise ConfigError(f"unet mults must be a non-empty list of integers >= 1, got {mults}")
        widths = [base * m for m in mults]
        if any(w % groups for w in widths):
            raise ConfigError(f"unet widths {widths} (base x mults) must be divisible by groups={groups}")
        time_dim = 4 * base if time_dim is None else time_dim
        check_int("unet time_dim", time_dim, 1)
        emb_dim = 2 * math.ceil(base / 2)
        self.channels = channels
        self.time_mlp = nn.Sequential(TimeEmbedding(emb_dim, time, time_scale), nn.Linear(emb_dim, time_dim),
                                      nn.SiLU(), nn.Linear(time_dim, time_dim))
        self.conv_in = nn.Conv2d(channels, base, 3, padding=1)

        skips = [base]
        ch = base
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        for i, w in enumerate(widths):
            level = nn.ModuleList()
            for _ in range(blocks):
                level.append(ResBlock(ch, w, time_dim, groups, dropout))
                ch = w
                skips.append(ch)
            self.down.append(level)
            if i < len(widths) - 1:
                self.downsample.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
                skips.append(ch)
        self.mid1 = ResBlock(ch, ch, time_dim, groups, dropout)
        self.attn = SelfAttention(ch, groups) if attention else nn.Identity()
        self.mid2 = ResBlock(ch, ch, time_dim, groups, dropout)

        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i, w in reversed(list(enumerate(widths))):
            level = nn.ModuleList()
            for _ in range(blocks + 1):
                level.append(ResBlock(ch + skips.pop(), w, time_dim, groups, dropout))
                ch = w
            self.up.append(level)
            if i > 0:
                self.upsample.append(nn.Conv2d(ch, ch, 3, padding=1))
        self.norm_out = nn.GroupNorm(groups, ch)
        self.conv_out = nn.Conv2d(ch, channels, 3, padding=1)

    def forward(self, x: Tensor, t: Tensor | float) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.channels:
            raise ValueError(f"UNet expects (B, {self.channels}, H, W) inputs, got {tuple(x.shape)}")
        temb = self.time_mlp(batch_times(t, x))
        h = self.conv_in(x)
        hs = [h]
        for i, level in enumerate(self.down):
            for block in level:
                h = block(h, temb)
                hs.append(h)
            if i < len(self.downsample):
                h = self.downsample[i](h)
                hs.append(h)
        h = self.mid2(self.attn(self.mid1(h, temb)), temb)
        for i, level in enumerate(self.up):
            for block in level:
                h = block(torch.cat([h, hs.pop()], dim=1), temb)
            if i < len(self.upsample):
                # to the exact size of the next skip, so odd sizes come back: 4 -> 7 after 7 -> 4
                h = self.upsample[i](F.interpolate(h, size=hs[-1].shape[-2:], mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h)))

__all__ = ["ResBlock", "SelfAttention", "UNet"]
