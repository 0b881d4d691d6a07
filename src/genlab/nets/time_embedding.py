"""Embeddings of a scalar time t per example, for the time-conditioned nets of diffusion, score and
flow-matching models.

Convention shared by every time-conditioned net in genlab: t is a float per example, usually in
[0, 1] (flow matching's t; a DDPM family passes its step index as t / T, an NCSN family may pass
log sigma). A 0-dim t is broadcast to the batch.

* "sinusoidal": the Transformer position code used by DDPM (Ho et al. 2020, arXiv:2006.11239,
  appendix B; Vaswani et al. 2017, arXiv:1706.03762): [sin(s t w_k), cos(s t w_k)] with
  w_k = max_period^(-k / (dim/2)), k = 0..dim/2-1. `scale` s defaults to 1000 so that t in [0, 1]
  covers the range of DDPM's integer steps t in 1..1000 (the frequencies would barely vary
  across [0, 1] otherwise).
* "fourier": random Fourier features (Tancik et al. 2020, arXiv:2006.10739), as in the Gaussian
  Fourier projection of score SDEs (Song et al. 2021, arXiv:2011.13456, code `layerspp.py`):
  [sin(2 pi t b_k), cos(2 pi t b_k)] with fixed b_k ~ N(0, scale^2); `scale` defaults to 16 (their
  choice). The b_k are a saved buffer, not trained, so a checkpoint restores the same features.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

from genlab.core.checks import check_int, check_range
from genlab.core.errors import ConfigError

TimeKind = Literal["sinusoidal", "fourier"]
DEFAULT_SCALE: dict[str, float] = {"sinusoidal": 1000.0, "fourier": 16.0}


def batch_times(t: Tensor | float, x: Tensor) -> Tensor:
    """`t` as a (B,) tensor on x's device and dtype, B = len(x): a number or 0-dim t is broadcast
    (ODE solvers call f(t, x) with one t for the whole batch)."""
    t = torch.as_tensor(t, device=x.device, dtype=x.dtype)
    if t.ndim == 0:
        return t.expand(len(x))
    if t.shape != (len(x),):
        raise ValueError(f"times must have shape ({len(x)},) or (), got {tuple(t.shape)}")
    return t


class TimeEmbedding(nn.Module):
    """(B,) float times -> (B, dim) features; `kind` "sinusoidal" (DDPM) or "fourier" (random
    Fourier features). `dim` must be even (half sines, half cosines)."""

    def __init__(self, dim: int, kind: TimeKind = "sinusoidal", scale: float | None = None,
                 max_period: float = 10000.0):
        super().__init__()
        check_int("time embedding dim", dim, 2)
        if dim % 2:
            raise ConfigError(f"time embedding dim must be even (sines and cosines), got {dim}")
        if kind not in DEFAULT_SCALE:
            raise ConfigError(f"unknown time embedding {kind!r}; choose one of: sinusoidal, fourier")
        self.dim, self.kind = dim, kind
        self.scale = DEFAULT_SCALE[kind] if scale is None else float(scale)
        check_range("time embedding scale", self.scale, 0.0, low_open=True)
        half = dim // 2
        if kind == "sinusoidal":
            check_range("time embedding max_period", max_period, 1.0, low_open=True)
            freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
            self.register_buffer("freqs", freqs * self.scale)
        else:
            self.register_buffer("freqs", 2 * math.pi * self.scale * torch.randn(half))

    def forward(self, t: Tensor) -> Tensor:
        if t.ndim != 1:
            raise ValueError(f"TimeEmbedding expects (B,) times, got shape {tuple(t.shape)}")
        args = t.to(self.freqs.dtype)[:, None] * self.freqs[None, :]
        return torch.cat([args.sin(), args.cos()], dim=1)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, kind={self.kind!r}, scale={self.scale:g}"


__all__ = ["DEFAULT_SCALE", "TimeEmbedding", "TimeKind", "batch_times"]
