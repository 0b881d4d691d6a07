"""Noise-conditional score network (NCSN; Song & Ermon 2019, arXiv:1907.05600) with the NCSNv2
choices (Song & Ermon 2020, arXiv:2006.09011).

A time-conditioned net (`genlab.nets.time`) gives the score s(x, sigma) = net(x, t(sigma)) / sigma
(`genlab.models.ncsn.score`), trained by denoising score matching with lambda(sigma) = sigma^2 at one
random level per example (`genlab.models.ncsn.loss`), on geometric levels from sigma_1 to sigma_L
(`genlab.models.ncsn.noise`). `sample(n)` runs annealed Langevin dynamics with the final denoising
step (`genlab.sampling.AnnealedLangevin`, the Langevin step shared with the energy-based models).

sigma_1 (`model.sigma_max`): given, or null for NCSNv2's technique 1, the largest pairwise distance
of the data, taken here from the first training batch (a model sees no data before `train_step`),
averaged over processes with `ctx.all_reduce_mean` so that every rank holds the same value. It lives
in the buffer `sigma_max` (0 until set), so checkpoints carry it and a resumed run is bit-exact; EMA
weights do not touch it. The number of levels L is `model.levels`, or NCSNv2's technique 2 for
D-dimensional data (D > 4); the Langevin step size eps is `model.eps`, or NCSNv2's technique 4 for the
levels and the steps per level.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor

from genlab.core.checks import check_int, check_range
from genlab.core.errors import ConfigError, DataError
from genlab.core.protocol import Batch, DataSpec, Model, StepContext, Update
from genlab.models.ncsn.loss import dsm_loss
from genlab.models.ncsn.noise import largest_pairwise_distance, ncsnv2_eps, ncsnv2_levels, ncsnv2_ratio
from genlab.models.ncsn.score import Flattened, NoiseConditionalScore
from genlab.models.registry import MODELS
from genlab.nets.time import Activation, TimeInput, TimeNetName, build_time_net
from genlab.sampling import AnnealedLangevin, geometric_sigmas

Init = Literal["auto", "gaussian", "uniform"]
IMAGE_RANGE = (0.0, 1.0)
MAX_LEVELS = 100_000  # L: checked before the noise levels are allocated


def _mlp_options(cfg: Any, spec: DataSpec) -> dict[str, Any]:
    return {"hidden": cfg.hidden, "depth": cfg.depth, "act": cfg.act, "time": cfg.time,
            "time_scale": cfg.time_scale}


def _unet_options(cfg: Any, spec: DataSpec) -> dict[str, Any]:
    time = "sinusoidal" if cfg.time == "concat" else cfg.time  # the U-Net always embeds t
    return {"base": cfg.base, "mults": cfg.mults, "blocks": cfg.blocks, "attention": cfg.attention,
            "groups": cfg.groups, "time": time, "time_scale": cfg.time_scale}


NET_OPTIONS: dict[str, Callable[[Any, DataSpec], dict[str, Any]]] = {"mlp": _mlp_options,
                                                                     "unet": _unet_options}


@MODELS.register("ncsn")
class NCSN(Model):
    """Score net (parameter group "model") trained by multi-level denoising score matching; samples
    by annealed Langevin dynamics."""

    default_ema: ClassVar[float] = 0.999  # NCSNv2 technique 5: sample with an EMA of the weights
    # config fields that change how a trained model samples, not its weights (genlab sample / eval
    # RUN model.steps_per_level=10)
    runtime_options: ClassVar[tuple[str, ...]] = ("steps_per_level", "eps", "denoise", "init", "clamp")

    @dataclass
    class Config:
        # score net: "auto" is the MLP for vectors, the U-Net for images (an MLP on images sees them flat)
        net: TimeNetName = "auto"
        hidden: int = 128  # MLP width
        depth: int = 3  # MLP hidden layers
        act: Activation = "silu"  # MLP activation
        time: TimeInput = "sinusoidal"  # how the net sees the level (concat: MLP only)
        time_scale: float | None = None  # time embedding scale (null: the embedding's default)
        base: int = 32  # U-Net channels at full resolution
        mults: tuple[int, ...] = (1, 2)  # U-Net channel multipliers per resolution
        blocks: int = 1  # U-Net residual blocks per resolution
        attention: bool = False  # U-Net self-attention at the lowest resolution
        groups: int = 8  # U-Net GroupNorm groups
        scale_input: bool = True  # the net sees x / sqrt(1 + sigma^2) (EDM's c_in; not in NCSNv2)
        # noise levels sigma_1 > ... > sigma_L (geometric)
        sigma_max: float | None = None  # null: largest pairwise distance of the first batch (NCSNv2)
        sigma_min: float = 0.01  # sigma_L (NCSNv2)
        levels: int | None = None  # L; null: NCSNv2's rule (needs data with D > 4)
        # annealed Langevin sampling (also read at sampling time: an edited run config takes effect)
        steps_per_level: int = 5  # T (NCSNv2: 5 for CIFAR-10)
        eps: float | None = None  # step size at sigma_L, alpha_i = eps sigma_i^2 / sigma_L^2; null:
        # NCSNv2's technique 4 for the levels and steps_per_level (2e-5 for 8gaussians' 20 levels, T = 20)
        denoise: bool = True  # final x + sigma_L^2 s(x, sigma_L) (NCSNv2)
        init: Init = "auto"  # chain starts: gaussian N(0, sigma_1^2 I) | uniform on [0, 1]; auto: uniform
        # for images (NCSNv2), gaussian for vectors
        clamp: bool = False  # keep image chains in [0, 1] after every step (not in the papers)

        def __post_init__(self) -> None:
            for name, low in (("hidden", 1), ("depth", 1), ("base", 1), ("blocks", 1), ("groups", 1),
                              ("steps_per_level", 1)):
                check_int(f"model.{name}", getattr(self, name), low)
            if not self.mults or any(isinstance(m, bool) or not isinstance(m, int) or m < 1
                                     for m in self.mults):
                raise ConfigError(f"model.mults must be a non-empty list of integers >= 1, got {self.mults}")
            if self.time_scale is not None:
                check_range("model.time_scale", self.time_scale, 0.0, low_open=True)
            check_range("model.sigma_min", self.sigma_min, 0.0, low_open=True)
            if self.sigma_max is not None:
                check_range("model.sigma_max", self.sigma_max, self.sigma_min, low_open=True)
            if self.levels is not None:
                check_int("model.levels", self.levels, 2)
                if self.levels > MAX_LEVELS:
                    raise ConfigError(f"model.levels must be at most {MAX_LEVELS}, got {self.levels}")
            if self.eps is not None:
                check_range("model.eps", self.eps, 0.0, low_open=True)

    def __init__(self, cfg: Config, spec: DataSpec | tuple[int, ...]):
        spec = DataSpec.coerce(spec)
        super().__init__()
        self.cfg, self.shape, self.is_image = cfg, tuple(spec.shape), spec.is_image
        self.dim = 1
        for d in self.shape:
            self.dim *= d
        if cfg.levels is None:
            ncsnv2_ratio(self.dim)  # fails now (one ConfigError line) where the rule has no solution
        net = cfg.net if cfg.net != "auto" else ("unet" if spec.is_image and len(spec.shape) == 3 else "mlp")
        if net == "mlp" and len(spec.shape) != 1:  # an MLP sees the flattened example
            body = Flattened(build_time_net("mlp", DataSpec((self.dim,)), **NET_OPTIONS[net](cfg, spec)))
        else:
            body = build_time_net(net, spec, **NET_OPTIONS[net](cfg, spec))
        self.score_net = NoiseConditionalScore(body, cfg.scale_input)
        # sigma_1; 0 until known. A buffer: saved in checkpoints, the same on every rank.
        self.register_buffer("sigma_max", torch.tensor(float(cfg.sigma_max or 0.0)))
        self._levels_cache: tuple[float, tuple[float, ...]] | None = None
        self.last_nfe: int | None = None  # score evaluations per sample of the latest sample()

    # ---------------------------------------------------------------- noise levels
    @property
    def sigmas(self) -> tuple[float, ...]:
        """sigma_1 > ... > sigma_L; RuntimeError before sigma_1 is known (untrained, sigma_max: null)."""
        top = float(self.sigma_max)
        if top <= 0:
            raise RuntimeError("NCSN noise levels are unknown before the first training batch "
                               "(set model.sigma_max, or train first)")
        if self._levels_cache is None or self._levels_cache[0] != top:
            cfg = self.cfg
            n = cfg.levels if cfg.levels is not None else ncsnv2_levels(top, cfg.sigma_min, self.dim)
            self._levels_cache = (top, geometric_sigmas(top, cfg.sigma_min, n))
        return self._levels_cache[1]

    def _set_sigma_max(self, x: Tensor, ctx: StepContext) -> None:
        """NCSNv2 technique 1 on the first batch, averaged over processes."""
        d = ctx.all_reduce_mean(largest_pairwise_distance(x).to(self.sigma_max))
        if not float(d) > self.cfg.sigma_min:
            raise DataError(f"the largest pairwise distance of the first batch ({float(d):.4g}) must exceed "
                            f"model.sigma_min ({self.cfg.sigma_min}); set model.sigma_max")
        self.sigma_max.copy_(d)

    # ---------------------------------------------------------------- score
    def score(self, x: Tensor, sigma: Tensor) -> Tensor:
        """s_theta(x, sigma) for (B,) levels sigma."""
        sig = self.sigmas
        return self.score_net(x, sigma.to(x.dtype), sig[0], sig[-1])

    # ---------------------------------------------------------------- protocol
    def train_step(self, batch: Batch, ctx: StepContext) -> Iterator[Update]:
        x = batch["x"]
        if float(self.sigma_max) <= 0:
            self._set_sigma_max(x, ctx)
        levels = torch.tensor(self.sigmas, dtype=x.dtype, device=x.device)
        sigma = levels[torch.randint(len(levels), (len(x),), device=x.device)]
        per_example = dsm_loss(self.score, x, sigma, torch.randn_like(x))
        loss = per_example.mean()
        yield Update(("model",), loss, {"loss": loss.detach(), "sigma_max": self.sigma_max.detach().clone()})

    # ---------------------------------------------------------------- sampling
    def sampler(self, steps_per_level: int | None = None, eps: float | None = None,
                denoise: bool | None = None) -> AnnealedLangevin:
        """The configured annealed Langevin sampler; arguments override the config."""
        cfg = self.cfg
        clamp = IMAGE_RANGE if cfg.clamp and self.is_image else None
        steps = cfg.steps_per_level if steps_per_level is None else steps_per_level
        return AnnealedLangevin(self.sigmas, self.step_size(steps) if eps is None else eps, steps,
                                cfg.denoise if denoise is None else denoise, clamp)

    def step_size(self, steps_per_level: int | None = None) -> float:
        """`model.eps`, or NCSNv2's technique 4 for these levels and `steps_per_level` (default: the
        config's) where it is null."""
        if self.cfg.eps is not None:
            return self.cfg.eps
        sig = self.sigmas
        steps = self.cfg.steps_per_level if steps_per_level is None else steps_per_level
        return ncsnv2_eps(sig[0] / sig[1], sig[-1], steps)

    @property
    def nfe(self) -> int:
        """Score evaluations per sample of `sample(n)`: L * steps_per_level (+1 with denoising)."""
        return self.sampler().nfe

    def initial(self, n: int) -> Tensor:
        """n chain starts: N(0, sigma_1^2 I), or uniform on [0, 1] (see `model.init`)."""
        p = next(self.parameters())
        kind = self.cfg.init if self.cfg.init != "auto" else ("uniform" if self.is_image else "gaussian")
        if kind == "uniform":
            return torch.rand(n, *self.shape, device=p.device, dtype=p.dtype)
        return self.sigmas[0] * torch.randn(n, *self.shape, device=p.device, dtype=p.dtype)

    @torch.no_grad()
    def sample(self, n: int, steps_per_level: int | None = None, eps: float | None = None,
               denoise: bool | None = None) -> Tensor:
        """n samples by annealed Langevin dynamics; `last_nfe` records the score evaluations per sample."""
        return self.sample_with_nfe(n, steps_per_level, eps, denoise)[0]

    @torch.no_grad()
    def sample_with_nfe(self, n: int, steps_per_level: int | None = None, eps: float | None = None,
                        denoise: bool | None = None) -> tuple[Tensor, int]:
        """(samples, score evaluations per sample), as the flow-matching family's method of that name."""
        sampler = self.sampler(steps_per_level, eps, denoise)
        x = sampler(self.score, self.initial(n))
        self.last_nfe = sampler.nfe
        return x, sampler.nfe

    def extra_repr(self) -> str:
        top = float(self.sigma_max)
        return f"sigma_max={top:g} (0: from the first batch), sigma_min={self.cfg.sigma_min:g}"


__all__ = ["NCSN"]
