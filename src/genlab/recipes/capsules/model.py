"""A small matrix-capsule classifier trained by genlab's trainer: ReLU conv -> primary capsules ->
capsule convolution -> class capsules, with the spread loss (Hinton, Sabour & Frosst 2018, figure 1,
scaled down for 8x8 digits and 28x28 Fashion-MNIST)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from genlab.core.checks import check_int, check_range
from genlab.core.errors import ConfigError
from genlab.core.protocol import Batch, DataSpec, Model, StepContext, Update
from genlab.recipes.capsules.layers import ClassCaps, ConvCaps, PrimaryCaps
from genlab.recipes.capsules.loss import spread_loss, spread_margin
from genlab.recipes.capsules.routing import CostNorm


class CapsNet(Model):
    """Class-capsule activations (N, classes) of images in [0, 1]; the prediction is their argmax.

    Train with `data.pixels=scale`, `data.range=unit`. Not in `MODELS`: the recipe hands it to the Trainer
    built (`genlab.recipes.fit`), so the library's model list stays the generative families.
    """

    @dataclass
    class Config:
        conv_channels: int = 32  # the ReLU convolution in front of the primary capsules
        conv_kernel: int = 3
        primary_types: int = 8
        caps_types: int = 8  # capsule types of the capsule convolution
        caps_kernel: int = 3
        caps_stride: int = 2
        iterations: int = 3  # EM iterations per routed layer
        lam_min: float = 0.25  # inverse temperature of the first and last EM iteration
        lam_max: float = 1.0
        cost_norm: CostNorm = "standardise"  # or "none": the paper's raw cost (see routing.em_routing)
        margin_start: float = 0.2  # spread-loss margin, raised linearly over margin_steps
        margin_end: float = 0.9
        margin_steps: int = 1000
        n_classes: int | None = None  # None: from the data's labels

        def __post_init__(self) -> None:
            for name in ("conv_channels", "conv_kernel", "primary_types", "caps_types", "caps_kernel",
                         "caps_stride", "iterations", "margin_steps"):
                check_int(f"model.{name}", getattr(self, name), 1)
            check_range("model.margin_start", self.margin_start, 0.0)
            check_range("model.margin_end", self.margin_end, self.margin_start)
            check_range("model.lam_min", self.lam_min, 0.0, low_open=True)
            check_range("model.lam_max", self.lam_max, self.lam_min)
            if self.n_classes is not None:
                check_int("model.n_classes", self.n_classes, 2)

    def __init__(self, cfg: Config, spec: DataSpec):
        spec = DataSpec.coerce(spec).require("model capsnet", image=True)
        n_classes = cfg.n_classes
        if n_classes is None:  # from the data's labels
            n_classes = spec.require("model capsnet", labelled=True).n_classes
        c, h, w = spec.shape
        if min(h, w) < cfg.caps_kernel:
            raise ConfigError(f"model.caps_kernel={cfg.caps_kernel} does not fit {h}x{w} images")
        super().__init__()
        self.cfg, self.shape = cfg, spec.shape
        pad = cfg.conv_kernel // 2
        self.conv = nn.Sequential(nn.Conv2d(c, cfg.conv_channels, cfg.conv_kernel, padding=pad), nn.ReLU())
        self.primary = PrimaryCaps(cfg.conv_channels, cfg.primary_types)
        self.conv_caps = ConvCaps(cfg.primary_types, cfg.caps_types, cfg.caps_kernel, cfg.caps_stride,
                                  cfg.iterations, cfg.lam_min, cfg.lam_max, cfg.cost_norm)
        self.class_caps = ClassCaps(cfg.caps_types, n_classes, cfg.iterations, cfg.lam_min, cfg.lam_max,
                                    cfg.cost_norm)

    def forward(self, x: Tensor) -> Tensor:
        """Class activations (N, classes) in (0, 1)."""
        if x.ndim != 4 or tuple(x.shape[1:]) != self.shape:
            raise ValueError(f"capsnet takes images of shape (N, {', '.join(map(str, self.shape))}), "
                             f"got {tuple(x.shape)}")
        pose, a = self.primary(self.conv(x.float() * 2 - 1))
        pose, a = self.conv_caps(pose, a)
        return self.class_caps(pose, a)[1]

    def train_step(self, batch: Batch, ctx: StepContext) -> Iterator[Update]:
        if "y" not in batch:
            raise ValueError("model capsnet needs labelled batches (a 'y' tensor); the data set has none")
        a = self(batch["x"])
        margin = spread_margin(ctx.step, self.cfg.margin_steps, self.cfg.margin_start, self.cfg.margin_end)
        loss = spread_loss(a, batch["y"], margin)
        acc = (a.detach().argmax(1) == batch["y"]).float().mean()
        yield Update(("model",), loss, {"loss": loss, "accuracy": acc, "margin": torch.tensor(margin)})
