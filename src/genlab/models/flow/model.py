"""Normalizing-flow models: `nice`, `realnvp` and `glow`, for vectors and (multi-scale) images.

A flow is a bijection f from data to a latent with a simple density, so the log-likelihood is exact:
log p(x) = log p_z(f(x)) + log|det df/dx|, and training maximises it directly. Sampling inverts f on
latents drawn from the prior (at a temperature T: latents ~ N(0, T^2 I), Glow sec. 5). Layers live in
`genlab.models.flow`; this module only assembles them.

* NICE (Dinh, Krueger & Bengio, arXiv:1410.8516): additive couplings on the odd/even partition of a
  vector, alternating roles, then a diagonal scaling layer; standard-normal prior (the paper used a
  logistic prior for MNIST). Images are flattened.
* RealNVP (Dinh, Sohl-Dickstein & Bengio, arXiv:1605.08803): affine couplings. Vectors: alternating
  odd/even masks. Images (sec. 4.1): each scale is `couplings` checkerboard couplings, a squeeze,
  `couplings` channel-wise couplings, then half of the channels are factored out with a standard-
  normal prior; the last scale is `couplings + 1` checkerboard couplings. The paper's batch
  normalisation and deep ResNets are replaced by ActNorm (optional) and Glow's 3-layer conv net.
* Glow (Kingma & Dhariwal, arXiv:1807.03039): L levels of [squeeze, K x (ActNorm, invertible 1x1 conv,
  coupling)], a split with a learned conditional prior between levels, learned top prior. Vectors:
  K steps of (ActNorm, invertible linear, channel-half coupling).

Log-likelihoods are per example, in nats, of the model inputs (after `genlab.data.Pixels`); the
dequantisation/logit correction and bits/dim are added once, by `genlab.eval.metrics.bits_per_dim`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Literal

import torch
from torch import Tensor, nn

from genlab.core.checks import check_int, check_range
from genlab.core.errors import ConfigError
from genlab.core.protocol import Batch, DataSpec, Model, StepContext, Update
from genlab.core.registry import Registry
from genlab.models.flow.actnorm import ActNorm
from genlab.models.flow.base import Bijection, FlowSequence
from genlab.models.flow.coupling import AdditiveCoupling, AffineCoupling, NetFactory, Scale, ScaleLayer
from genlab.models.flow.invconv import InvConv1x1
from genlab.models.flow.masks import checkerboard_mask, parity_mask
from genlab.models.flow.multiscale import MultiScaleFlow, Prior, Split, SplitPrior
from genlab.models.flow.nets import coupling_net
from genlab.models.flow.permute import Permute
from genlab.models.flow.squeeze import Squeeze
from genlab.models.registry import MODELS


@dataclass
class FlowConfig:
    """Options shared by every flow model."""

    hidden: int = 64  # width of the coupling networks (conv channels or MLP units)
    depth: int = 2  # hidden layers of the coupling MLPs (vector data)
    flatten: bool = False  # treat images as flat vectors (no convolutions, no multi-scale)
    temperature: float = 1.0  # default sampling temperature (std of the latents)

    def __post_init__(self) -> None:
        # Ranges checked when the config is built, so a bad value fails before any data is loaded.
        check_int("model.hidden", self.hidden, 1)
        check_int("model.depth", self.depth, 0)
        check_range("model.temperature", self.temperature, 0.0, low_open=True)
        for name in ("couplings", "levels", "steps"):  # the subclasses' counts, where they have them
            if hasattr(self, name):
                check_int(f"model.{name}", getattr(self, name), 1)


class FlowModel(Model):
    """Shared protocol code: exact log-likelihood, encode/decode, sampling, training loss."""

    Config = FlowConfig
    handles_images = True  # False: images are always flattened (NICE)

    def __init__(self, cfg: FlowConfig, spec: DataSpec | tuple[int, ...]):
        spec = DataSpec.coerce(spec)
        if len(spec.shape) != 3:  # flows take images (C, H, W) or vectors (D,)
            spec.require(f"model {type(self).__name__.lower()}", vector=True)
        super().__init__()
        self.cfg, self.shape = cfg, tuple(spec.shape)
        self.image = len(self.shape) == 3 and not cfg.flatten and self.handles_images
        self.flow_shape = self.shape if self.image else (math.prod(self.shape),)
        self.flow = self.build()

    def build(self) -> MultiScaleFlow:
        raise NotImplementedError

    def vector_flow(self, layers: Callable[[int], list[Bijection]], learn_top: bool) -> MultiScaleFlow:
        """One stage of `layers(d)` on flat d-dimensional inputs, no splits."""
        (d,) = self.flow_shape
        if d < 2:
            raise ConfigError(f"{type(self).__name__} needs at least 2 dimensions, got {d}")
        return MultiScaleFlow([FlowSequence(layers(d))], [], Prior(d, learn_top), self.flow_shape)

    def net_fn(self, image: bool | None = None) -> Callable[[int, int], nn.Module]:
        """Coupling-network factory (conv for images, MLP for vectors) with the model's widths."""
        image = self.image if image is None else image
        return partial(coupling_net, hidden=self.cfg.hidden, image=image, depth=self.cfg.depth)

    # ------------------------------------------------------------------ density
    def _in(self, x: Tensor) -> Tensor:
        if tuple(x.shape[1:]) != self.shape:
            raise ValueError(f"{type(self).__name__} built for examples of shape {self.shape}, "
                             f"got a batch of shape {tuple(x.shape)}")
        return x.reshape(x.shape[0], *self.flow_shape)

    def encode(self, x: Tensor) -> list[Tensor]:
        """The standardised latents of x (one per split level, then the top)."""
        return self.flow(self._in(x))[0]

    @torch.no_grad()
    def representation(self, x: Tensor) -> Tensor:
        """`encode(x)`'s latents flattened and concatenated, (B, D): what a probe reads."""
        return torch.cat([z.flatten(1) for z in self.encode(x)], dim=1)

    def decode(self, latents: list[Tensor]) -> Tensor:
        """The inverse of `encode`: data-space examples of shape (B, *shape)."""
        x = self.flow.inverse(latents)
        return x.reshape(x.shape[0], *self.shape)

    def log_likelihood(self, x: Tensor) -> Tensor:
        """Exact per-example log-density of x in nats (float32, or float64 for a float64 model)."""
        return self.flow(self._in(x))[1]

    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        """decode(encode(x)): equal to x up to floating-point error (a check of invertibility)."""
        return self.decode(self.encode(x))

    @torch.no_grad()
    def likelihood_estimates(self, x: Tensor, importance_samples: int = 0) -> dict[str, Tensor]:
        """The exact log-likelihood (no sampling: `importance_samples` is ignored)."""
        return {"log_likelihood": self.log_likelihood(x)}

    def sample(self, n: int, temperature: float | None = None) -> Tensor:
        """n samples with every latent drawn from N(0, T^2 I); T defaults to model.temperature.
        T < 1 trades diversity for cleaner samples (Glow, arXiv:1807.03039, sec. 5)."""
        t = self.cfg.temperature if temperature is None else temperature
        if t < 0:
            raise ValueError(f"temperature must be >= 0, got {t}")
        return self.decode(self.flow.sample_latents(n, t))

    def train_step(self, batch: Batch, ctx: StepContext) -> Iterator[Update]:
        """Maximum likelihood; the loss is the NLL per dimension (nats), so lr is size-independent."""
        x = batch["x"]
        log_p = self.log_likelihood(x)
        nll = -log_p.mean()
        loss = nll / x[0].numel()
        yield Update(("model",), loss, {"loss": loss, "nll_nats": nll})

    # ------------------------------------------------------------------ building helpers
    def _check_image_size(self, squeezes: int) -> None:
        c, h, w = self.shape
        k = 2**squeezes
        if h % k or w % k:
            raise ConfigError(
                f"{type(self).__name__.lower()} with model.levels={self.cfg.levels} squeezes "
                f"{squeezes} time(s), so height and width must be divisible by {k}; got {h}x{w}. "
                "Use fewer levels, or model.flatten=true"
            )


# ====================================================================== NICE
@MODELS.register("nice")
class NICE(FlowModel):
    """NICE: additive couplings on alternating odd/even halves, then a diagonal scaling layer.
    Always works on flattened examples (it is a vector model)."""

    @dataclass
    class Config(FlowConfig):
        couplings: int = 4  # NICE used 4 for MNIST
        hidden: int = 1000
        depth: int = 5  # NICE's MNIST coupling nets: 5 hidden ReLU layers of 1000 units

    handles_images = False

    def build(self) -> MultiScaleFlow:
        return self.vector_flow(lambda d: [
            *(AdditiveCoupling(d, self.net_fn(), mask=parity_mask(d, i % 2))
              for i in range(self.cfg.couplings)),
            ScaleLayer((d,)),
        ], learn_top=False)


# ====================================================================== RealNVP
@MODELS.register("realnvp")
class RealNVP(FlowModel):
    """RealNVP: affine couplings with checkerboard and channel masks, multi-scale for images."""

    @dataclass
    class Config(FlowConfig):
        couplings: int = 3  # images: per mask type per scale (paper: 3); vectors: total = 2x this
        levels: int = 2  # images: number of scales (levels - 1 squeezes and splits)
        scale: Scale = "tanh"  # bounded log-scale: tanh (identity at init) | sigmoid (Glow code)
        actnorm: bool = True  # ActNorm before each coupling (replaces the paper's batch norm)
        learn_top: bool = False  # learned top prior instead of N(0, I)
        split_prior: SplitPrior = "standard"  # RealNVP: standard; conditional: Glow's split2d

    def _coupling(self, channels: int, mask: Tensor | None, flip: bool, image: bool) -> list[Bijection]:
        out: list[Bijection] = [ActNorm(channels)] if self.cfg.actnorm else []
        out.append(AffineCoupling(channels, self.net_fn(image), mask=mask, flip=flip,
                                  scale=self.cfg.scale))
        return out

    def build(self) -> MultiScaleFlow:
        cfg = self.cfg
        if not self.image:
            def layers(d: int) -> list[Bijection]:
                return [b for i in range(2 * cfg.couplings)
                        for b in self._coupling(d, parity_mask(d, i % 2), flip=False, image=False)]

            return self.vector_flow(layers, cfg.learn_top)
        self._check_image_size(cfg.levels - 1)
        c, h, w = self.shape
        stages, splits = [], []
        for level in range(cfg.levels):
            last = level == cfg.levels - 1
            n = cfg.couplings + 1 if last else cfg.couplings
            layers = [b for i in range(n)
                      for b in self._coupling(c, checkerboard_mask(h, w, i % 2), False, True)]
            if not last:
                layers.append(Squeeze())
                c, h, w = 4 * c, h // 2, w // 2
                layers += [b for i in range(cfg.couplings)
                           for b in self._coupling(c, None, i % 2 == 1, True)]
                splits.append(Split(c, True, cfg.split_prior))
                c -= c // 2
            stages.append(FlowSequence(layers))
        return MultiScaleFlow(stages, splits, Prior(c, cfg.learn_top), self.flow_shape)


# ====================================================================== Glow
@MODELS.register("glow")
class Glow(FlowModel):
    """Glow: levels of squeeze + K steps of (ActNorm, 1x1 conv, coupling), conditional splits."""

    @dataclass
    class Config(FlowConfig):
        hidden: int = 128
        levels: int = 2  # L (images): each level squeezes once; L - 1 splits
        steps: int = 8  # K flow steps per level
        coupling: Literal["affine", "additive"] = "affine"
        scale: Scale = "tanh"  # affine scale: tanh (bounded both ways) | sigmoid (Glow code)
        mixing: Literal["conv1x1", "shuffle", "reverse"] = "conv1x1"  # conv1x1: learned (LU optional)
        lu: bool = True  # LU-parameterised 1x1 conv
        learn_top: bool = True
        split_prior: SplitPrior = "conditional"  # conditional (Glow split2d) | standard

    def _step(self, channels: int) -> list[Bijection]:
        cfg = self.cfg
        mix = MIXINGS.get(cfg.mixing)(channels, cfg)
        coupling = COUPLINGS.get(cfg.coupling)(channels, self.net_fn(), cfg.scale)
        return [ActNorm(channels), mix, coupling]

    def build(self) -> MultiScaleFlow:
        cfg = self.cfg
        if not self.image:
            return self.vector_flow(lambda d: [b for _ in range(cfg.steps) for b in self._step(d)],
                                    cfg.learn_top)
        self._check_image_size(cfg.levels)
        c = self.shape[0]
        stages, splits = [], []
        for level in range(cfg.levels):
            c *= 4
            layers: list[Bijection] = [Squeeze()]
            layers += [b for _ in range(cfg.steps) for b in self._step(c)]
            stages.append(FlowSequence(layers))
            if level < cfg.levels - 1:
                splits.append(Split(c, True, cfg.split_prior))
                c -= c // 2
        return MultiScaleFlow(stages, splits, Prior(c, cfg.learn_top), self.flow_shape)


def _permutation(kind: str, channels: int, cfg: Glow.Config) -> Bijection:
    # a fresh seed per step, drawn from torch's generator so a seeded build is reproducible
    return Permute(channels, kind, seed=torch.randint(0, 2**31 - 1, ()).item())


# Glow's model.mixing -> (channels, config) -> channel mixing, and model.coupling -> (channels, net
# factory, scale) -> coupling
MIXINGS: Registry[Callable[[int, Glow.Config], Bijection]] = Registry("model.mixing")
MIXINGS.register("conv1x1")(lambda channels, cfg: InvConv1x1(channels, lu=cfg.lu))
MIXINGS.register("shuffle")(partial(_permutation, "shuffle"))
MIXINGS.register("reverse")(partial(_permutation, "reverse"))
COUPLINGS: Registry[Callable[[int, NetFactory, Scale], Bijection]] = Registry("model.coupling")
COUPLINGS.register("affine")(lambda channels, net_fn, scale: AffineCoupling(channels, net_fn, scale=scale))
COUPLINGS.register("additive")(lambda channels, net_fn, scale: AdditiveCoupling(channels, net_fn))

__all__ = ["COUPLINGS", "MIXINGS", "NICE", "FlowConfig", "FlowModel", "Glow", "RealNVP"]
