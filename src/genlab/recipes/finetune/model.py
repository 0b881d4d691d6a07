"""A classifier fine-tuned from one of genlab's feature CNNs with the tricks of
https://kexue.fm/archives/4611: a GLU feature layer and softmax head on the backbone, an auxiliary softmax
head straight on the backbone features, a center loss on the GLU features (loss weights 1, 0.25, 0.25),
and staged unfreezing (new layers first, then the backbone's top layer, then all of it).

The backbone is `FeatureCNN.body` (conv - conv - fc, see `genlab.nets.feature_cnn`); its parameters form
two groups, `bottom` (the convolutions) and `top` (the fc layer), beside `new` (GLU and both heads).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.core.checks import check_int, check_range
from genlab.core.errors import ConfigError
from genlab.core.protocol import Batch, DataSpec, Model, StepContext, Update
from genlab.eval.features.store import require_feature_net
from genlab.nets.feature_cnn import FeatureCNN, NetSpec
from genlab.recipes.finetune.center_loss import CenterLoss
from genlab.recipes.finetune.glu import GLU
from genlab.recipes.finetune.schedule import Unfreezing

GROUPS = ("new", "top", "bottom")  # in unfreezing order


class FineTuned(Model):
    """Logits (N, classes) of images in [0, 1] from the GLU head; `logits_aux` gives the auxiliary head's.

    Train with `data.pixels=scale`, `data.range=unit`. With `pretrained=False` the same network starts from
    random weights (the from-scratch baseline). Not in `MODELS`: the recipe registers it for its runs only.
    """

    @dataclass
    class Config:
        source: str = "fashion-mnist"  # feature network whose architecture (and weights) the backbone takes
        pretrained: bool = True
        features: int = 64  # width of the GLU feature layer
        aux_weight: float = 0.25
        center_weight: float = 0.25
        center_alpha: float = 0.5
        unfreeze_top: int = 0  # first step that trains the backbone's fc layer
        unfreeze_all: int = 0  # first step that trains the convolutions too
        n_classes: int | None = None  # None: from the data's labels

        def __post_init__(self) -> None:
            check_int("model.features", self.features, 1)
            for name in ("aux_weight", "center_weight"):
                check_range(f"model.{name}", getattr(self, name), 0.0)
            check_range("model.center_alpha", self.center_alpha, 0.0, 1.0)
            if self.n_classes is not None:
                check_int("model.n_classes", self.n_classes, 2)
            self.unfreezing()  # the stage starts must be in order

        def unfreezing(self) -> Unfreezing:
            """The staged-unfreezing schedule of `unfreeze_top` / `unfreeze_all` (a ConfigError if the
            stages are out of order)."""
            try:
                return Unfreezing(((0, GROUPS[:1]), (self.unfreeze_top, GROUPS[:2]),
                                   (self.unfreeze_all, GROUPS)))
            except ValueError as err:
                raise ConfigError(f"model.unfreeze_top / model.unfreeze_all: {err}") from None

    def __init__(self, cfg: Config, spec: DataSpec):
        spec = DataSpec.coerce(spec)
        n_classes = cfg.n_classes
        if n_classes is None:  # from the data's labels
            n_classes = spec.require("model finetune", labelled=True).n_classes
        schedule = cfg.unfreezing()
        source = require_feature_net(cfg.source)
        net: FeatureCNN = source.net if cfg.pretrained else FeatureCNN(NetSpec(**source.entry["arch"]))
        want = (net.spec.in_channels, net.spec.height, net.spec.width)
        if spec.shape != want or not spec.is_image:
            raise ConfigError(f"the {cfg.source} backbone takes images of shape {want}, the data has "
                              f"{spec.shape}; resize them (genlab.recipes.finetune.resize_images)")
        super().__init__()
        self.cfg, self.schedule = cfg, schedule
        self.body = net.body.requires_grad_(True)  # shipped nets load frozen; stages decide what trains
        width = net.spec.features
        self.glu = GLU(width, cfg.features)
        self.head = nn.Linear(cfg.features, n_classes)
        self.aux_head = nn.Linear(width, n_classes)
        self.center = CenterLoss(n_classes, cfg.features, cfg.center_alpha)
        self._stats: Tensor | None = None  # this step's per-class feature sums, for the centre update

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        convs = [m for m in self.body if isinstance(m, nn.Conv2d)]
        fcs = [m for m in self.body if isinstance(m, nn.Linear)]
        return {"new": [*self.glu.parameters(), *self.head.parameters(), *self.aux_head.parameters()],
                "top": [p for m in fcs for p in m.parameters()],
                "bottom": [p for m in convs for p in m.parameters()]}

    def backbone(self, x: Tensor) -> Tensor:
        return self.body((x.float() - 0.5) * 2)  # FeatureCNN's input scaling

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.glu(self.backbone(x)))

    def logits_aux(self, x: Tensor) -> Tensor:
        return self.aux_head(self.backbone(x))

    def train_step(self, batch: Batch, ctx: StepContext) -> Iterator[Update]:
        if "y" not in batch:
            raise ValueError("model finetune needs labelled batches (a 'y' tensor); the data set has none")
        x, y = batch["x"], batch["y"]
        h = self.backbone(x)
        f = self.glu(h)
        logits, aux = self.head(f), self.aux_head(h)
        ce, ce_aux, center = F.cross_entropy(logits, y), F.cross_entropy(aux, y), self.center(f, y)
        loss = ce + self.cfg.aux_weight * ce_aux + self.cfg.center_weight * center
        stats = self.center.statistics(f, y)
        self._stats = stats if self._stats is None else self._stats + stats  # summed over micro-batches
        groups = self.schedule.groups_at(ctx.step)
        acc = (logits.detach().argmax(1) == y).float().mean()
        stage = torch.tensor(float(self.schedule.stage_at(ctx.step)))
        yield Update(groups, loss, {"loss": loss, "ce": ce, "ce_aux": ce_aux, "center": center,
                                    "accuracy": acc, "stage": stage})

    def on_step_end(self, ctx: StepContext) -> None:
        if self._stats is None:
            return
        # averaged over processes, so every rank moves its centres identically
        self.center.update(ctx.all_reduce_mean(self._stats))
        self._stats = None
