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
from genlab.models.multitask.weightings import Tasks, TaskWeightingName, build_task_weighting
from genlab.models.registry import MODELS
from genlab.nets.autoencoder import NetKind, encoder_decoder


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
        net: NetKind = "mlp"  # the shared encoder and the reconstruction decoder (`genlab.nets.autoencoder`)
        features: int = 64  # width of the shared representation
        hidden: int = 256  # MLP width, or the conv nets' base channel count
        depth: int = 2  # MLP hidden layers
        rotation: bool = True  # rotate inputs and add the rotation task (square images only)
        task_weighting: TaskWeightingName = "fixed"  # a TASK_WEIGHTINGS name
        task_weights: dict[str, float] | None = None  # fixed: weight per task (None: equal)
        gamma: float = 0.0  # power_mean: exponent (1 arithmetic, 0 geometric, +-inf max/min)
        task_priors: dict[str, float] | None = None  # prior: prior loss per task (None: first batch)

        @property
        def tasks(self) -> tuple[str, ...]:
            return ("class", "reconstruction") + (("rotation",) if self.rotation else ())

        def __post_init__(self) -> None:
            for name, low in (("features", 1), ("hidden", 1), ("depth", 0)):
                check_int(f"model.{name}", getattr(self, name), low)
            if math.isnan(self.gamma):
                raise ConfigError("model.gamma must be a number or +-inf, got nan")
            for given in (self.task_weights, self.task_priors):
                unknown = sorted(set(given or {}) - set(self.tasks))
                if unknown:
                    raise ConfigError(f"unknown task(s) {unknown} in the model config; "
                                      f"tasks: {list(self.tasks)}")
            for name, value in (self.task_weights or {}).items():
                check_range(f"model.task_weights.{name}", value, 0.0)
            for name, value in (self.task_priors or {}).items():
                check_range(f"model.task_priors.{name}", value, 0.0, low_open=True)
            if self.task_weights is not None and not any(self.task_weights.values()):
                raise ConfigError(f"model.task_weights are all 0 ({self.task_weights}): nothing would "
                                  "be trained; give at least one task a positive weight")
            # an option its weighting does not read is refused, not silently ignored
            for option, value, used_by in (("task_weights", self.task_weights, "fixed"),
                                           ("task_priors", self.task_priors, "prior"),
                                           ("gamma", self.gamma or None, "power_mean")):
                if value is not None and self.task_weighting != used_by:
                    raise ConfigError(f"model.{option} is only read by task_weighting={used_by}, not "
                                      f"{self.task_weighting}; remove it or change the weighting")

    def __init__(self, cfg: Config, spec: DataSpec):
        spec = DataSpec.coerce(spec)
        # any labelled (C, H, W) array will do: pixel levels are not needed
        spec.require("model multitask", image=len(spec.shape) != 3, labelled=True)
        if cfg.rotation:
            spec.require("model.rotation=true", square=True)
        if cfg.net == "conv":
            spec.require("model.net=conv", square=True)
        super().__init__()
        self.cfg, self.shape, self.n_classes = cfg, tuple(spec.shape), spec.n_classes
        self.encoder, self.decoder = encoder_decoder(cfg.net, self.shape, cfg.features, cfg.features,
                                                     cfg.hidden, cfg.depth)
        self.classify = nn.Linear(cfg.features, spec.n_classes)
        self.rotation = nn.Linear(cfg.features, 4) if cfg.rotation else None
        self.tasks = Tasks(cfg.tasks, frozenset({"class", "rotation"}), cfg.task_weights, cfg.gamma,
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
