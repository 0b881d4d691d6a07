"""Denoising diffusion probabilistic model (DDPM, Ho et al. 2020, arXiv:2006.11239) with DDIM
sampling (Song, Meng & Ermon 2021, arXiv:2010.02502).

Training: t ~ U{1..T}, ε ~ N(0, I), x_t = √ᾱ_t x_0 + √(1 - ᾱ_t) ε, and the mean squared error of the
network's prediction of ε, x_0 or v (`prediction`) — Ho et al.'s "simple" loss. The network is a
time-conditioned net of `genlab.nets` (`TimeMLP` for vectors, `UNet` for images) called with the
continuous time τ = t/T.

Sampling: DDPM ancestral sampling (T or `sample_steps` respaced steps, σ_t² = β_t or β̃_t) or DDIM
(`sample_steps`, `eta`) — `genlab.models.diffusion.samplers`; `last_nfe` holds the network
evaluations of the latest `sample` call. Likelihoods (`likelihoods`): the variational bound
("bound", reported as `elbo`, a lower bound on log p, or `elbo_<K>_of_<T-1>_terms` when KL terms are
sampled) and the exact probability-flow-ODE log-density ("ode", reported as `log_likelihood_ode`).

Sampling and likelihood options change no weights: `genlab sample` / `genlab eval` accept them as
overrides of a trained run (`model.sampler=ddim model.sample_steps=50`), see `runtime_options`.
Randomness comes from torch's global generator (checkpointed by the trainer); the model keeps no
other random state.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from genlab.core.checks import check_int, check_range
from genlab.core.errors import ConfigError
from genlab.core.protocol import Batch, DataSpec, Model, StepContext, Update
from genlab.distributions.gaussian import std_normal_log_prob
from genlab.models.diffusion import prediction as pred
from genlab.models.diffusion.bound import variational_bound
from genlab.models.diffusion.pf_ode import probability_flow
from genlab.models.diffusion.samplers import SamplerKind, VarianceKind, sample_ddim, sample_ddpm
from genlab.models.diffusion.schedules import NoiseSchedule, ScheduleKind
from genlab.models.registry import MODELS
from genlab.nets.time import Activation, TimeInput, TimeNetName, build_time_net
from genlab.ode import Method, ode_log_likelihood

Likelihood = Literal["bound", "ode"]
SAMPLERS = {"ddpm": sample_ddpm, "ddim": sample_ddim}
MAX_TIMESTEPS = 100_000  # T: checked before the per-step schedule tables are allocated


@MODELS.register("diffusion")
class Diffusion(Model):
    """ε/x_0/v-prediction network under a linear or cosine schedule; group "model"."""

    @dataclass
    class Config:
        # process
        timesteps: int = 1000  # T
        schedule: ScheduleKind = "linear"
        beta_start: float = 1e-4  # linear schedule
        beta_end: float = 0.02
        cosine_s: float = 0.008  # cosine schedule's offset s and β clip
        max_beta: float = 0.999
        prediction: pred.PredictionKind = "eps"
        # network (genlab.nets.time): TimeMLP for vectors, UNet for images ("auto" picks by data)
        net: TimeNetName = "auto"
        hidden: int = 256  # mlp width
        depth: int = 3  # mlp hidden layers
        act: Activation = "silu"  # mlp activation
        time: TimeInput = "sinusoidal"  # time input (mlp: also "concat"; unet: sinusoidal | fourier)
        time_dim: int = 64  # mlp time-embedding width
        base: int = 32  # unet base channels
        mults: tuple[int, ...] = (1, 2)  # unet channel multipliers per level
        blocks: int = 1  # unet residual blocks per level
        attention: bool = True  # unet self-attention at the lowest resolution
        groups: int = 8  # unet GroupNorm groups
        dropout: float = 0.0  # unet dropout
        # sampling (runtime options: may be overridden at `genlab sample` / `genlab eval`)
        sampler: SamplerKind = "ddpm"
        sample_steps: int | None = None  # null: T (ddpm: respaced when fewer; ddim: S)
        variance: VarianceKind = "beta"  # ddpm σ_t²: beta (β_t) | posterior (β̃_t); also the bound's
        eta: float = 0.0  # ddim: 0 deterministic, 1 ~ DDPM posterior variance
        clip_x0: float | None = None  # clamp x̂_0 to [-c, c] while sampling (1.0 for images in [-1, 1])
        # likelihoods (runtime options)
        likelihoods: tuple[Likelihood, ...] = ("bound",)
        bound_terms: int | None = None  # null: all T - 1 KL terms; K: K sampled terms (unbiased)
        bound_chunk: int = 8192  # rows (examples x terms) per network call in the bound
        ode_method: Method = "dopri5"
        ode_steps: int = 100  # fixed-step methods
        ode_atol: float = 1e-5
        ode_rtol: float = 1e-5
        ode_t0: float | None = None  # null: 1/T (see genlab.models.diffusion.pf_ode)
        ode_divergence: Literal["exact", "hutchinson"] = "exact"
        ode_probes: int = 1  # hutchinson: Rademacher probes

        def __post_init__(self) -> None:
            for name, low in (("timesteps", 1), ("hidden", 1), ("depth", 1), ("time_dim", 2), ("base", 1),
                              ("blocks", 1), ("groups", 1), ("bound_chunk", 1), ("ode_steps", 1),
                              ("ode_probes", 1)):
                check_int(f"model.{name}", getattr(self, name), low)
            if self.timesteps > MAX_TIMESTEPS:  # the schedule tables are allocated per step
                raise ConfigError(f"model.timesteps must be at most {MAX_TIMESTEPS}, got {self.timesteps}")
            if self.time_dim % 2:
                raise ConfigError(f"model.time_dim must be even, got {self.time_dim}")
            check_range("model.beta_start", self.beta_start, 0.0, 1.0, low_open=True, high_open=True)
            check_range("model.beta_end", self.beta_end, self.beta_start, 1.0, high_open=True)
            check_range("model.cosine_s", self.cosine_s, 0.0, low_open=True)
            check_range("model.max_beta", self.max_beta, 0.0, 1.0, low_open=True, high_open=True)
            check_range("model.dropout", self.dropout, 0.0, 1.0, high_open=True)
            check_range("model.eta", self.eta, 0.0, 1.0)  # > 1: sigma^2 would exceed 1 - alpha-bar_prev
            check_range("model.ode_atol", self.ode_atol, 0.0, low_open=True)
            check_range("model.ode_rtol", self.ode_rtol, 0.0, low_open=True)
            if not self.mults or min(self.mults) < 1:
                raise ConfigError(f"model.mults must be a non-empty list of integers >= 1, got {self.mults}")
            if self.sample_steps is not None:
                check_int("model.sample_steps", self.sample_steps, 1)
                if self.sample_steps > self.timesteps:
                    raise ConfigError(f"model.sample_steps must be at most model.timesteps={self.timesteps}, "
                                      f"got {self.sample_steps}")
            if self.bound_terms is not None:
                check_int("model.bound_terms", self.bound_terms, 1)
            if self.clip_x0 is not None:
                check_range("model.clip_x0", self.clip_x0, 0.0, low_open=True)
            if self.ode_t0 is not None:
                check_range("model.ode_t0", self.ode_t0, 0.0, 1.0, low_open=True, high_open=True)
            if not self.likelihoods:
                raise ConfigError("model.likelihoods must name at least one of: bound, ode")

    # config fields that change how a trained model samples or is evaluated, not its weights
    runtime_options: ClassVar[tuple[str, ...]] = (
        "sampler", "sample_steps", "variance", "eta", "clip_x0", "likelihoods", "bound_terms", "bound_chunk",
        "ode_method", "ode_steps", "ode_atol", "ode_rtol", "ode_t0", "ode_divergence", "ode_probes")
    # DDPM's EMA decay (Ho et al. appendix B); presets for short CPU runs set their own
    default_ema: ClassVar[float] = 0.9999

    def __init__(self, cfg: Config, spec: DataSpec | tuple[int, ...]):
        spec = DataSpec.coerce(spec)
        super().__init__()
        self.cfg, self.shape = cfg, tuple(spec.shape)
        self.schedule = NoiseSchedule.build(cfg.schedule, cfg.timesteps, cfg.beta_start, cfg.beta_end,
                                            cfg.cosine_s, cfg.max_beta)
        net = cfg.net
        if net == "auto":
            net = "unet" if spec.is_image and len(spec.shape) == 3 else "mlp"
        if net == "mlp":
            spec.require("model.net=mlp", vector=True)
            options: dict[str, Any] = {"hidden": cfg.hidden, "depth": cfg.depth, "act": cfg.act,
                                       "time": cfg.time, "time_dim": cfg.time_dim}
        else:
            if cfg.time == "concat":
                raise ConfigError("model.time=concat is an mlp option; the unet takes sinusoidal or fourier")
            options = {"base": cfg.base, "mults": cfg.mults, "blocks": cfg.blocks, "attention": cfg.attention,
                       "groups": cfg.groups, "time": cfg.time, "dropout": cfg.dropout}
        self.net = build_time_net(net, spec, **options)
        self.last_nfe = 0

    # ---------------------------------------------------------------- predictions
    def predict(self, x_t: Tensor, tau: Tensor, alpha_bar: Tensor) -> tuple[Tensor, Tensor]:
        """(ε̂, x̂_0) at x_t, continuous time τ (B,) with ᾱ(τ) = `alpha_bar` (broadcast to x_t)."""
        out = self.net(x_t, tau)
        kind = self.cfg.prediction
        return pred.to_eps(kind, out, x_t, alpha_bar), pred.to_x0(kind, out, x_t, alpha_bar)

    def denoise(self, x_t: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """(ε̂, x̂_0) at integer steps t (B,) in 1..T: the samplers' and the bound's `Denoiser`."""
        tau = t.to(x_t.dtype) / self.cfg.timesteps
        return self.predict(x_t, tau, self.schedule.at("alpha_bar", t, x_t))

    def eps_at(self, x: Tensor, tau: Tensor) -> Tensor:
        """ε̂ at continuous times τ (B,) (the probability-flow ODE's input)."""
        ab = self.schedule.alpha_bar_at(tau).to(x.dtype).view(-1, *([1] * (x.ndim - 1)))
        return self.predict(x, tau.to(x.dtype), ab)[0]

    # ---------------------------------------------------------------- protocol
    def train_step(self, batch: Batch, ctx: StepContext) -> Iterator[Update]:
        x0 = batch["x"]
        if tuple(x0.shape[1:]) != self.shape:
            raise ValueError(f"diffusion model built for examples of shape {self.shape}, "
                             f"got {tuple(x0.shape)}")
        t = torch.randint(1, self.cfg.timesteps + 1, (len(x0),), device=x0.device)
        eps = torch.randn_like(x0)
        ab = self.schedule.at("alpha_bar", t, x0)
        x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
        out = self.net(x_t, t.to(x0.dtype) / self.cfg.timesteps)
        loss = F.mse_loss(out, pred.target(self.cfg.prediction, x0, eps, ab))
        yield Update(("model",), loss, {"loss": loss.detach()})

    @torch.no_grad()
    def sample(self, n: int) -> Tensor:
        """n samples by the configured sampler from x_T ~ N(0, I); sets `last_nfe`."""
        cfg = self.cfg
        p = next(self.parameters())
        x = torch.randn(n, *self.shape, device=p.device, dtype=p.dtype)
        if cfg.sampler == "ddpm":
            x, nfe = sample_ddpm(self.denoise, x, self.schedule, cfg.sample_steps, cfg.variance, cfg.clip_x0)
        else:
            x, nfe = sample_ddim(self.denoise, x, self.schedule, cfg.sample_steps, cfg.eta, cfg.clip_x0)
        self.last_nfe = nfe
        return x

    def likelihood_estimates(self, x: Tensor, importance_samples: int = 1000) -> dict[str, Tensor]:
        """`elbo` (-bound, all terms) or `elbo_<K>_of_<T-1>_terms` (sampled terms), and/or
        `log_likelihood_ode`; nats per example. `importance_samples` is not used."""
        cfg, out = self.cfg, {}
        if "bound" in cfg.likelihoods:
            bound, k = variational_bound(self.denoise, x, self.schedule, cfg.variance, cfg.bound_terms,
                                         cfg.bound_chunk)
            name = "elbo" if k == cfg.timesteps - 1 else f"elbo_{k}_of_{cfg.timesteps - 1}_terms"
            out[name] = (-bound).to(x.dtype)
        if "ode" in cfg.likelihoods:
            out["log_likelihood_ode"] = self.ode_log_likelihood(x)
        return out

    def ode_log_likelihood(self, x: Tensor) -> Tensor:
        """log p(x) of the probability-flow ODE from τ_0 to 1 (`genlab.models.diffusion.pf_ode`)."""
        cfg = self.cfg
        t0 = cfg.ode_t0 if cfg.ode_t0 is not None else 1.0 / cfg.timesteps
        result = ode_log_likelihood(probability_flow(self.eps_at, self.schedule), x, t_data=t0, t_source=1.0,
                                    source_log_prob=std_normal_log_prob, method=cfg.ode_method,
                                    steps=cfg.ode_steps, atol=cfg.ode_atol, rtol=cfg.ode_rtol,
                                    divergence=cfg.ode_divergence, n_probes=cfg.ode_probes)
        self.last_nfe = result.nfe
        return result.log_prob


__all__ = ["Diffusion"]
