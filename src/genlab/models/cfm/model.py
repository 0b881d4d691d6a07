"""Conditional flow matching (`cfm`): a velocity field v_θ(x, t) trained by regression on the
conditional targets of a probability path, sampled by integrating dx/dt = v_θ(x, t) from the
source at t = 0 to the data at t = 1.

Loss (Lipman et al. 2023, arXiv:2210.02747, eq. 9; Tong et al. 2024, arXiv:2302.00482, eq. 16):
E_{t ~ U[0, 1], (x0, x1), ε} ‖v_θ(x_t, t) − u_t‖², averaged over dimensions (as torchcfm), with x_t
and u_t from the configured path (`genlab.models.cfm.paths`), x0 from the source
(`genlab.models.cfm.source`) and, for `otcfm`, the minibatch re-paired by exact OT
(`genlab.models.cfm.pairing`).

Sampling integrates with `genlab.ode.solve` (`model.solver`, `model.steps`, tolerances for dopri5)
and records the number of velocity evaluations (`last_nfe`; `sample_with_nfe` returns it). Where the
source has a density (N(0, I), Gaussian-mixture toys) the model is a `DensityModel` too: the
instantaneous change of variables (Chen et al. 2018, arXiv:1806.07366) gives
log p_1(x) = log p_0(x(0)) − ∫_0^1 ∇·v_θ(x(t), t) dt along the ODE run backwards from x(1) = x,
computed by the shared `genlab.ode.ode_log_likelihood` with the exact divergence or Hutchinson's
estimate, named so in the result. With path noise σ > 0 (icfm / otcfm / vp) the path's marginal at
t = 0 is the source smoothed by N(0, σ² I), not the source itself; sampling starts from the source
(as torchcfm does), and the likelihood uses the source's density, exact only for σ = 0 (and for
the `ot` path, whose t = 0 end carries no extra noise).

Reflow (`model.run`, Liu et al. 2023, arXiv:2209.03003): see `genlab.models.cfm.reflow`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.core.checks import check_int, check_range
from genlab.core.errors import ConfigError
from genlab.core.protocol import Batch, DataSpec, Model, StepContext, Update
from genlab.models.cfm.pairing import ot_pairing
from genlab.models.cfm.paths import PathName, build_path
from genlab.models.cfm.reflow import check_teacher
from genlab.models.cfm.source import SourceName, build_source
from genlab.models.registry import MODELS
from genlab.nets.time import Activation, TimeInput, TimeNetName, build_time_net
from genlab.ode import Method, solve, velocity_field
from genlab.ode.likelihood import ode_log_likelihood


@dataclass
class CFMConfig:
    """Options of the `cfm` model."""

    path: PathName = "otcfm"  # ot (Lipman) | icfm | otcfm | vp
    sigma: float = 0.0  # σ_min of the ot path; the constant path noise σ of icfm / otcfm / vp
    source: SourceName = "normal"  # N(0, I), or a 2-D toy (e.g. 8gaussians -> moons)
    # velocity net (genlab.nets.time): auto = MLP for vectors, U-Net for images
    net: TimeNetName = "auto"
    hidden: int = 64  # MLP width, or the U-Net's base channel count
    depth: int = 3  # MLP hidden layers
    act: Activation = "selu"  # MLP activation
    time: TimeInput = "concat"  # MLP time input: concat (torchcfm's MLP) | sinusoidal | fourier
    mults: tuple[int, ...] = (1, 2)  # U-Net width multipliers per resolution
    attention: bool = True  # U-Net self-attention at the lowest resolution
    # sampling
    solver: Method = "dopri5"
    steps: int = 100  # fixed-step solvers' steps (NFE = steps x evaluations per step)
    atol: float = 1e-5  # dopri5 tolerances, sampling and likelihood
    rtol: float = 1e-5
    # likelihood (needs a source with a density)
    divergence: Literal["exact", "hutchinson"] = "exact"
    likelihood_solver: Method = "dopri5"
    # reflow (Liu et al. 2023): a finished cfm run whose ODE pairs (z, x̂ = ODE(z)) replace the data
    run: str | None = None
    teacher_solver: Method | None = None  # the teacher's ODE while training; null: its own solver
    teacher_steps: int | None = None  # null: the teacher's own steps
    init_from_teacher: bool = True  # start from the teacher's weights (same net options needed)

    def __post_init__(self) -> None:
        if self.run:
            self.run = str(Path(self.run).expanduser().resolve())
        if self.teacher_steps is not None:
            check_int("model.teacher_steps", self.teacher_steps, 1)
        check_range("model.sigma", self.sigma, 0.0)
        for name in ("hidden", "depth", "steps"):
            check_int(f"model.{name}", getattr(self, name), 1)
        check_range("model.atol", self.atol, 0.0, low_open=True)
        check_range("model.rtol", self.rtol, 0.0, low_open=True)
        for m in self.mults:
            check_int("model.mults[]", m, 1)
        build_path(self.path, self.sigma)  # the path's own range (σ_min < 1 for ot)


def _net_options(cfg: CFMConfig) -> dict[str, dict[str, Any]]:
    return {
        "mlp": {"hidden": cfg.hidden, "depth": cfg.depth, "act": cfg.act, "time": cfg.time},
        "unet": {"base": cfg.hidden, "mults": cfg.mults, "attention": cfg.attention},
    }


@MODELS.register("cfm")
class CFM(Model):
    """Velocity net `net` (parameter group "model"); `Sampler` always, `DensityModel` when the
    source has a density (`CFM(...)` then builds a `CFMWithDensity`). With `model.run` set, a
    reflow of that run's model (`teacher`, frozen; see `genlab.models.cfm.reflow`)."""

    Config = CFMConfig
    default_ema: ClassVar[float] = 0.999  # EMA weights for sampling/eval unless optim.<group>.ema says
    # config fields that change how a trained model samples or is evaluated, not its weights
    # (genlab sample / eval RUN model.solver=euler model.steps=10)
    runtime_options: ClassVar[tuple[str, ...]] = ("solver", "steps", "atol", "rtol", "divergence",
                                                  "likelihood_solver")

    def __new__(cls, cfg: CFMConfig | None = None, spec: Any = None, *args: Any, **kwargs: Any) -> CFM:
        # The capability follows the source: isinstance(model, DensityModel) is true exactly when
        # the source has a closed-form log-density.
        if (cls is CFM and cfg is not None and spec is not None
                and build_source(cfg.source, DataSpec.coerce(spec)).has_density):
            cls = CFMWithDensity
        return super().__new__(cls)

    @classmethod
    def upstream_runs(cls, config: CFMConfig) -> dict[str, str]:
        return {"teacher": config.run} if config.run else {}

    def __init__(self, cfg: CFMConfig, spec: DataSpec | tuple[int, ...],
                 upstream: Mapping[str, Model] | None = None):
        spec = DataSpec.coerce(spec)
        super().__init__()
        self.cfg, self.shape = cfg, tuple(spec.shape)
        self.path = build_path(cfg.path, cfg.sigma)
        self.source = build_source(cfg.source, spec)
        name = cfg.net if cfg.net != "auto" else ("unet" if spec.is_image else "mlp")
        self.net: nn.Module = build_time_net(name, spec, **_net_options(cfg)[name])
        self.last_nfe: int | None = None  # velocity evaluations of the latest sample()
        self.teacher: CFM | None = None
        if cfg.run:
            self.teacher = check_teacher(cfg, spec, (upstream or {}).get("teacher"), CFM)
            if cfg.init_from_teacher:
                try:
                    self.net.load_state_dict(self.teacher.net.state_dict())
                except RuntimeError:
                    raise ConfigError(f"model.init_from_teacher: the net options differ from those of "
                                      f"the teacher {cfg.run}; use the same, or set "
                                      "model.init_from_teacher=false") from None

    # ---------------------------------------------------------------- pieces
    def velocity(self, x: Tensor, t: Tensor) -> Tensor:
        """v_θ(x, t) for t of shape (B,) (the time nets' signature; `velocity_field` adapts it to
        the solvers' f(t, x))."""
        return self.net(x, t)

    def train(self, mode: bool = True) -> CFM:
        super().train(mode)
        if self.teacher is not None:
            self.teacher.eval()  # frozen: never in training mode
        return self

    def transport(self, x0: Tensor, solver: Method | None = None, steps: int | None = None,
                  atol: float | None = None, rtol: float | None = None) -> tuple[Tensor, int]:
        """x0 (at t = 0) carried to t = 1 by the learned ODE, and the NFE; options default to the
        config's. No gradient."""
        cfg = self.cfg
        with torch.no_grad():
            out = solve(velocity_field(self.velocity), x0, 0.0, 1.0, solver or cfg.solver,
                        steps or cfg.steps, atol or cfg.atol, rtol or cfg.rtol)
        return out.x, out.nfe

    def regression_pairs(self, x1: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(x_t, t, u_t) for a data batch x1: draws sources, OT-pairs them for otcfm (or, for a
        reflow, replaces x1 by the teacher's ODE image of the sources), draws t and the path noise
        (in this order, all from torch's global generator)."""
        x0 = self.source.sample(len(x1), x1)
        if self.teacher is not None:
            x1 = self.teacher.transport(x0, self.cfg.teacher_solver, self.cfg.teacher_steps)[0]
        elif self.path.ot_pairs:
            x1 = x1[ot_pairing(x0, x1)]
        t = torch.rand(len(x1), device=x1.device, dtype=x1.dtype)
        eps = torch.randn_like(x1) if self.path.noise > 0 else None
        xt, ut = self.path.sample(x0, x1, t, eps)
        return xt, t, ut

    # ---------------------------------------------------------------- protocol
    def train_step(self, batch: Batch, ctx: StepContext) -> Iterator[Update]:
        xt, t, ut = self.regression_pairs(batch["x"])
        loss = F.mse_loss(self.velocity(xt, t), ut)  # one fused kernel (and one in backward)
        yield Update(("model",), loss, {"loss": loss.detach()})

    @torch.no_grad()
    def sample_with_nfe(self, n: int, solver: Method | None = None, steps: int | None = None,
                        atol: float | None = None, rtol: float | None = None) -> tuple[Tensor, int]:
        """n samples and the number of velocity evaluations; options default to the config's."""
        x0 = self.source.sample(n, next(self.net.parameters()))
        x, self.last_nfe = self.transport(x0, solver, steps, atol, rtol)
        return x, self.last_nfe

    def sample(self, n: int) -> Tensor:
        """n samples by the configured solver; the NFE is kept in `last_nfe`."""
        return self.sample_with_nfe(n)[0]


class CFMWithDensity(CFM):
    """A `cfm` model whose source has a log-density: also a `DensityModel` (exact ODE likelihood)."""

    def log_likelihood(self, x: Tensor, divergence: Literal["exact", "hutchinson"] | None = None) -> Tensor:
        """log p_1(x) in nats per example, by the ODE run from the data (t = 1) back to the source
        (t = 0) with the shared `genlab.ode.ode_log_likelihood` (no gradient)."""
        cfg = self.cfg
        return ode_log_likelihood(self.velocity, x, t_data=1.0, t_source=0.0,
                                  source_log_prob=self.source.log_prob, method=cfg.likelihood_solver,
                                  steps=cfg.steps, atol=cfg.atol, rtol=cfg.rtol,
                                  divergence=divergence or cfg.divergence).log_prob

    def likelihood_estimates(self, x: Tensor, importance_samples: int = 0) -> dict[str, Tensor]:
        """{"log_likelihood_ode_exact" | "log_likelihood_ode_hutchinson": (B,)};
        `importance_samples` is unused."""
        return {f"log_likelihood_ode_{self.cfg.divergence}": self.log_likelihood(x)}




__all__ = ["CFM", "CFMConfig", "CFMWithDensity"]
