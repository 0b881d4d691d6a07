"""Time-conditioned networks v(x, t) for diffusion, score and flow-matching models, and the table a
family config picks them from.

* `TimeMLP` for vector data (B, D): an MLP whose hidden layers each add a projection of the time
  embedding, or (`time="concat"`) torchcfm's toy network, raw t as one more input feature.
* `UNet` (`genlab.nets.unet`) for images (B, C, H, W).
* `TIME_NETS` / `build_time_net(name, spec, **options)`: a family config names the net by
  `TimeNetName` ("mlp" | "unet", or "auto": the MLP for vector data, the U-Net for images).

Every net takes t as a float per example, shape (B,), or one number / 0-dim tensor for the whole
batch (what ODE solvers pass); times are usually in [0, 1] (see `genlab.nets.time_embedding`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import torch
from torch import Tensor, nn

from genlab.core.checks import check_int
from genlab.core.errors import ConfigError
from genlab.core.protocol import DataSpec
from genlab.core.registry import Registry
from genlab.nets.mlp import mlp
from genlab.nets.time_embedding import TimeEmbedding, batch_times
from genlab.nets.unet import UNet

Activation = Literal["silu", "selu", "relu"]
TimeInput = Literal["sinusoidal", "fourier", "concat"]
TimeNetName = Literal["auto", "mlp", "unet"]
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {"silu": nn.SiLU, "selu": nn.SELU, "relu": nn.ReLU}


class TimeMLP(nn.Module):
    """forward(x (B, D), t (B,) or ()) -> (B, D): `depth` hidden layers of width `hidden`.

    `time="sinusoidal"` / `"fourier"`: t is embedded (`TimeEmbedding(time_dim, time)`), passed
    through Linear + act, and every hidden layer adds its own linear projection of that before its
    activation, so time enters at every depth. `time_scale` is the embedding's `scale` (default:
    `TimeEmbedding`'s; smaller values make v smoother in t at initialisation, which adaptive solvers
    pay for in NFE: a random net with the default 1000 needs ~500 dopri5 evaluations at tol 1e-5).
    `time="concat"`: [x, t] is the input of a plain MLP (parameters `net.0 ... net.{2 depth}`).
    `TimeMLP(D, hidden=64, depth=3, act="selu", time="concat")` is torchcfm's
    `MLP(D, time_varying=True, w=64)` layer for layer, with the same state_dict keys, so a
    benchmark can run both on the same weights.
    """

    def __init__(self, dim: int, hidden: int = 256, depth: int = 3, act: Activation = "silu",
                 time: TimeInput = "sinusoidal", time_dim: int = 64, time_scale: float | None = None):
        super().__init__()
        check_int("mlp dim", dim, 1)
        check_int("mlp hidden", hidden, 1)
        check_int("mlp depth", depth, 1)
        if act not in ACTIVATIONS:
            raise ConfigError(f"unknown activation {act!r}; choose one of: {', '.join(ACTIVATIONS)}")
        if time not in ("sinusoidal", "fourier", "concat"):
            raise ConfigError(f"unknown time input {time!r}; choose one of: sinusoidal, fourier, concat")
        self.dim, self.time = dim, time
        self.act = ACTIVATIONS[act]()
        if time == "concat":
            self.net = mlp(dim + 1, dim, hidden, depth, ACTIVATIONS[act])
            return
        self.embed = nn.Sequential(TimeEmbedding(time_dim, time, time_scale), nn.Linear(time_dim, hidden),
                                   ACTIVATIONS[act]())
        self.layers = nn.ModuleList(nn.Linear(dim if i == 0 else hidden, hidden) for i in range(depth))
        self.time_proj = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(depth))
        self.out = nn.Linear(hidden, dim)

    def forward(self, x: Tensor, t: Tensor | float) -> Tensor:
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"TimeMLP expects (B, {self.dim}) inputs, got {tuple(x.shape)}")
        t = batch_times(t, x)
        if self.time == "concat":
            return self.net(torch.cat([x, t[:, None]], dim=1))
        temb = self.embed(t)
        h = x
        for layer, proj in zip(self.layers, self.time_proj):
            h = self.act(layer(h) + proj(temb))
        return self.out(h)


def _mlp(spec: DataSpec, **options: Any) -> nn.Module:
    spec.require("model.net=mlp", vector=True)
    return TimeMLP(spec.shape[0], **options)


def _unet(spec: DataSpec, **options: Any) -> nn.Module:
    spec.require("model.net=unet", image=True)
    return UNet(spec.shape[0], **options)


TIME_NETS: Registry[Callable[..., nn.Module]] = Registry("time-conditioned net")
TIME_NETS.register("mlp")(_mlp)
TIME_NETS.register("unet")(_unet)


def build_time_net(name: str, spec: DataSpec | tuple[int, ...], **options: Any) -> nn.Module:
    """The net `name` ("mlp" | "unet" | "auto") for data `spec`, built with `options` (the keyword
    arguments of `TimeMLP` or `UNet`). "auto" is the U-Net for image data, the MLP for vectors; a
    net that does not fit the data fails with one ConfigError line."""
    spec = DataSpec.coerce(spec)
    if name == "auto":
        name = "unet" if spec.is_image and len(spec.shape) == 3 else "mlp"
    return TIME_NETS.get(name)(spec, **options)


__all__ = ["ACTIVATIONS", "TIME_NETS", "Activation", "TimeInput", "TimeMLP", "TimeNetName", "build_time_net"]
