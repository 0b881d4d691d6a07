"""A multi-task example: one shared encoder, heads for class, reconstruction and rotation.

Each labelled image is rotated by a random multiple of 90 degrees (Gidaris et al., "Unsupervised
Representation Learning by Predicting Image Rotations", arXiv:1803.07728); the shared features of
the rotated image feed three heads: the class (cross-entropy), the rotated image itself (mean
squared error) and the rotation (4-way cross-entropy). Every example carries all three labels,
so MGDA-UB's feature gradients are informative (https://kexue.fm/archives/8896). The step yields
one `Update(losses=..., combine=...)`; `model.task_weighting` picks the rule from
`TASK_WEIGHTINGS` (see `weightings.py`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.core.checks import check_int, check_range
from genlab.core.errors import ConfigError
from genlab.core.protocol import Batch, DataSpec, Model, StepContext, Update
from genlab.core.registry import Registry
from genlab.models.multitask.weightings import TASK_WEIGHTINGS, Tasks, build_task_weighting
from genlab.models.registry import MODELS
from genlab.nets import ConvDecoder, ConvEncoder, mlp

Nets = tuple[nn.Module, nn.Module]  # (encoder to `features` values, decoder back to the image)
NETS: Registry = Registry("model.net")


@NETS.register("mlp")
def _mlp_nets(shape: tuple[int, ...], features: int, hidden: int, depth: int) -> Nets:
    dims = math.prod(shape)
    return (nn.Sequential(nn.Flatten(), mlp(dims, features, hidden, depth)),
            nn.Sequential(mlp(features, dims, hidden, depth), nn.Unflatten(1, shape)))


@NETS.register("conv")
def _conv_nets(shape: tuple[int, ...], features: int, hidden: int, depth: int) -> Nets:
    return ConvEncoder(shape, features, hidden), ConvDecoder(features, shape, hidden)


def rotate_quarters(x: Tensor, k: Tensor) -> Tensor:
    """Rotate image i of (B, C, H, W) by k_i * 90 degrees (H == W)."""
    out = x.clone()
    for q in range(1, 4):
        hit = k == q
        if hit.any():
            out[hit] = torch.rot90(x[hit], q, dims=(-2, -1))
    return out


@MODELS.register("multitask")
class MultiTask(Model):
    """Shared encoder + heads "class", "reconstruction" and (optionally) "rotation"; an `Encoder`."""

    @dataclass
    class Config:
        net: str = "mlp"  # mlp | conv (the shared encoder and the reconstruction decoder)
        features: int = 64  # width of the shared representation
        hidden: int = 256  # MLP width, or the conv nets' base channel count
        depth: int = 2  # MLP hidden layers
        rotation: bool = True  # rotate inputs and add the rotation task (square images only)
        task_weighting: str = "fixed"  # a TASK_WEIGHTINGS name
        task_weights: dict[str, float] | None = None  # fixed: weight per task (None: equal)
        gamma: float = 0.0  # power_mean: exponent (1 arithmetic, 0 geometric, +-inf max/min)
        task_priors: dict[str, float] | None = None  # prior: prior loss per task (None: first batch)

        def __post_init__(self) -> None:
            NETS.get(self.net)
            TASK_WEIGHTINGS.get(self.task_weighting)
            for name, low in (("features", 1), ("hidden", 1), ("depth", 0)):
                check_int(f"model.{name}", getattr(self, name), low)
            if math.isnan(self.gamma):
                raise ValueError("model.gamma must be a number or +-inf, got nan")

    def __init__(self, cfg: Config, spec: DataSpec):
        spec = DataSpec.coerce(spec)
        if len(spec.shape) != 3 or spec.n_classes is None or spec.n_classes < 2:
            raise ConfigError("model multitask needs labelled images (C, H, W) with >= 2 classes, got "
                              f"shape {spec.shape} and n_classes {spec.n_classes}")
        if cfg.rotation and spec.shape[1] != spec.shape[2]:
            raise ConfigError(f"model.rotation needs square images, got {spec.shape}; "
                              "set model.rotation=false")
        super().__init__()
        self.cfg, self.shape, self.n_classes = cfg, tuple(spec.shape), spec.n_classes
        self.encoder, self.decoder = NETS.get(cfg.net)(self.shape, cfg.features, cfg.hidden, cfg.depth)
        self.classify = nn.Linear(cfg.features, spec.n_classes)
        self.rotation = nn.Linear(cfg.features, 4) if cfg.rotation else None
        names = ("class", "reconstruction") + (("rotation",) if cfg.rotation else ())
        for given in (cfg.task_weights, cfg.task_priors):
            unknown = sorted(set(given or {}) - set(names))
            if unknown:
                raise ConfigError(f"unknown task(s) {unknown} in the model config; tasks: {list(names)}")
        for name, value in (cfg.task_weights or {}).items():
            check_range(f"model.task_weights.{name}", value, 0.0)
        for name, value in (cfg.task_priors or {}).items():
            check_range(f"model.task_priors.{name}", value, 0.0, low_open=True)
        self.tasks = Tasks(names, frozenset({"class", "rotation"}), cfg.task_weights, cfg.gamma,
                           cfg.task_priors)
        self.weighting = build_task_weighting(cfg.task_weighting, self.tasks)

    def encode(self, x: Tensor) -> Tensor:
        """Shared features (N, features) of upright images."""
        return F.relu(self.encoder(x))

    def task_losses(self, x: Tensor, y: Tensor, k: Tensor | None) -> tuple[dict[str, Tensor], Tensor, dict]:
        """(per-task mean losses, shared features, accuracies) on images rotated by k quarter turns."""
        if k is not None:
            x = rotate_quarters(x, k)
        z = self.encode(x)
        logits = self.classify(z)
        losses = {"class": F.cross_entropy(logits, y),
                  "reconstruction": F.mse_loss(self.decoder(z), x)}
        accuracy = {"accuracy": (logits.detach().argmax(1) == y).float().mean()}
        if k is not None:
            rot = self.rotation(z)
            losses["rotation"] = F.cross_entropy(rot, k)
            accuracy["rotation_accuracy"] = (rot.detach().argmax(1) == k).float().mean()
        return losses, z, accuracy

    def _baselines(self, x: Tensor, y: Tensor, k: Tensor | None) -> dict[str, Tensor]:
        """Loss of the best input-blind predictor on this batch: label entropy, pixel variance."""

        def entropy(labels: Tensor, n: int) -> Tensor:
            p = torch.bincount(labels, minlength=n).float() / len(labels)
            return -(p * p.clamp_min(1e-12).log()).sum()

        out = {"class": entropy(y, self.n_classes),
               "reconstruction": x.detach().float().var(0, unbiased=False).mean()}
        if k is not None:
            out["rotation"] = entropy(k, 4)
        return out

    def train_step(self, batch: Batch, ctx: StepContext) -> Iterator[Update]:
        if "y" not in batch:
            raise ValueError("model multitask needs labelled batches (a 'y' tensor); the data set has none")
        x, y = batch["x"], batch["y"]
        k = torch.randint(0, 4, (len(x),), device=x.device) if self.rotation is not None else None
        losses, z, logs = self.task_losses(x, y, k)
        losses, combine = self.weighting.prepare(losses, z, self._baselines(x, y, k), ctx)
        yield Update(("model",), losses=losses, combine=combine, logs=logs)

    @torch.no_grad()
    def task_metrics(self, x: Tensor, y: Tensor, seed: int = 0) -> dict[str, float]:
        """Test metrics per task: accuracy on upright images, reconstruction MSE, rotation accuracy
        on images rotated by seeded random quarter turns."""
        was = self.training
        self.eval()
        z = self.encode(x)
        out = {"accuracy": float((self.classify(z).argmax(1) == y).float().mean()),
               "reconstruction_mse": float(F.mse_loss(self.decoder(z), x))}
        if self.rotation is not None:
            k = torch.randint(0, 4, (len(x),), generator=torch.Generator().manual_seed(seed)).to(x.device)
            rot = self.rotation(self.encode(rotate_quarters(x, k)))
            out["rotation_accuracy"] = float((rot.argmax(1) == k).float().mean())
        self.train(was)
        return out

    def extra_state(self) -> dict:
        state = self.weighting.rule_state()
        return {"weighting": state} if state else {}

    def load_extra_state(self, state: dict) -> None:
        unknown = sorted(set(state) - {"weighting"})
        if unknown:
            raise ValueError(f"multitask extra state has unknown keys {unknown}")
        if state:
            self.weighting.load_rule_state(state["weighting"])
