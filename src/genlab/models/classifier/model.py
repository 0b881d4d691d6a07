"""Cross-entropy classifier around `FeatureCNN`, so feature networks train through `Trainer`.

The network's penultimate ReLU layer is the feature space of FD/KID/PRDC (see
`genlab.eval.features.net`); `encode` exposes it. FeatureCNN takes images in [0, 1], i.e.
`x / (levels - 1)`: train with `data.pixels=scale`, `data.range=unit` (no dequantization noise),
as `genlab.recipes.feature_net` does.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor

from genlab.core.checks import check_int
from genlab.core.protocol import Batch, DataSpec, Model, StepContext, Update
from genlab.models.registry import MODELS
from genlab.nets.feature_cnn import FeatureCNN, NetSpec


@MODELS.register("classifier")
class Classifier(Model):
    """FeatureCNN trained with cross-entropy on `batch["x"]`, `batch["y"]`; an `Encoder`, not a
    `Sampler` (nothing to draw, so sample grids and sample metrics skip it)."""

    @dataclass
    class Config:
        features: int = 128  # width of the feature (penultimate) layer
        n_classes: int | None = None  # None: from the data's labels

        def __post_init__(self) -> None:
            check_int("model.features", self.features, 1)
            if self.n_classes is not None:
                check_int("model.n_classes", self.n_classes, 2)

    def __init__(self, cfg: Config, spec: DataSpec):
        spec = DataSpec.coerce(spec).require("model classifier", image=True)
        n_classes = cfg.n_classes
        if n_classes is None:  # from the data's labels
            n_classes = spec.require("model classifier", labelled=True).n_classes
        super().__init__()
        self.cfg = cfg
        c, h, w = spec.shape
        self.net = FeatureCNN(NetSpec(c, h, w, n_classes, cfg.features))

    def forward(self, x: Tensor) -> Tensor:
        """Class logits (N, n_classes) of images in [0, 1]."""
        return self.net(x)

    def encode(self, x: Tensor) -> Tensor:
        """Feature-layer activations (N, features) of images in [0, 1]."""
        self.net.check_input(x)
        return self.net.features(x)

    def train_step(self, batch: Batch, ctx: StepContext) -> Iterator[Update]:
        if "y" not in batch:
            raise ValueError("model classifier needs labelled batches (a 'y' tensor); the data set has none")
        x, y = batch["x"], batch["y"]
        self.net.check_input(x)
        logits = self.net(x)
        loss = F.cross_entropy(logits, y)
        acc = (logits.detach().argmax(1) == y).float().mean()
        yield Update(("model",), loss, {"loss": loss, "accuracy": acc})
