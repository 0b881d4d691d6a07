"""One critic for every adversarial family: a per-example scoring network with a GAN objective and
Lipschitz constraints picked by name (`model.critic.*` in a run config).

The GAN scores data against generator samples, the AAE prior draws against codes (Makhzani et al.
2015, arXiv:1511.05644) and ALI/BiGAN encoder pairs against decoder pairs (arXiv:1606.00704); all
three wrap their network in `Critic`, which owns the objective (`objectives`, f-GAN's divergences
in `fdivergence`), the gradient / finite-difference / R1 penalties and weight clipping
(`penalties`), spectral normalization (`spectral`) and gradient normalization (`gradnorm`).
Convention: the critic scores its *real* side high.

Every loss comes with detached logs named the same way in every family: `critic_loss` (the
objective's critic term), `d_real` and `d_fake` (mean scores), `penalty` and `r1` when those are on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from torch import Tensor, nn

from genlab.adversarial.fdivergence import DivergenceName
from genlab.adversarial.gradnorm import GradNormCritic, GradNormName
from genlab.adversarial.objectives import FGANGenerator, Objective, ObjectiveName, build_objective
from genlab.adversarial.penalties import (
    INTERPOLATE_PENALTIES,
    PenaltyMode,
    PenaltyName,
    clip_weights_,
    r1_penalty,
)
from genlab.adversarial.spectral import apply_spectral_norm
from genlab.core.checks import check_int, check_range
from genlab.core.errors import ConfigError

CriticNorm = Literal["none", "layer", "batch"]  # normalisation inside the critic network


@dataclass
class CriticConfig:
    """The critic's objective, constraints, update count and network size."""

    # objective (genlab.adversarial.objectives)
    objective: ObjectiveName = "nonsaturating"
    divergence: DivergenceName = "kl"  # fgan only
    fgan_generator: FGANGenerator = "alt"  # fgan only: alt (max E_q T) | minimax (min -E_q g(T))
    # Lipschitz constraints (composable; genlab.adversarial.penalties, .spectral, .gradnorm)
    penalty: PenaltyName = "none"  # gp: gradient penalty on interpolates; fd: finite differences
    penalty_mode: PenaltyMode = "two_sided"
    penalty_weight: float = 10.0
    penalty_power: float = 2.0  # exponent of the deviation (1 with one_sided: Su's hinge)
    r1_weight: float = 0.0  # gamma of the R1 penalty on the real side (0: off)
    clip: float | None = None  # weight clipping to [-clip, clip] (WGAN: 0.01)
    spectral_norm: bool = False
    grad_norm: GradNormName = "none"
    grad_norm_eps: float = 1e-8
    grad_norm_k: float = 1.0  # GraN's Lipschitz multiplier
    # schedule and network
    n_critic: int = 1  # critic updates per round
    hidden: int | None = None  # width (MLP) or base channels (conv); None: the model's `hidden`
    depth: int | None = None  # MLP hidden layers; None: the model's `depth`
    norm: CriticNorm = "none"  # batch only without input-gradient constraints

    def __post_init__(self) -> None:
        check_int("model.critic.n_critic", self.n_critic, 1)
        for name, low in (("hidden", 1), ("depth", 0)):
            if getattr(self, name) is not None:
                check_int(f"model.critic.{name}", getattr(self, name), low)
        for name in ("penalty_weight", "r1_weight"):
            check_range(f"model.critic.{name}", getattr(self, name), 0.0)
        for name in ("penalty_power", "grad_norm_eps", "grad_norm_k"):
            check_range(f"model.critic.{name}", getattr(self, name), 0.0, low_open=True)
        if self.clip is not None:
            check_range("model.critic.clip", self.clip, 0.0, low_open=True)
        if self.norm == "batch" and self.uses_input_gradients():
            raise ConfigError(
                "model.critic.norm=batch mixes examples, so per-example input gradients (penalty, "
                "r1_weight, grad_norm) lose their meaning; use norm: layer or none"
            )

    def uses_input_gradients(self) -> bool:
        """Whether a constraint reads per-example input gradients or slopes (penalties, R1, GN)."""
        return self.penalty != "none" or self.r1_weight > 0 or self.grad_norm != "none"

    def needs_double_backward(self) -> bool:
        """Whether training differentiates through input gradients (gradient penalty, R1, GN), which
        torch.compile cannot do (`train.compile`)."""
        return self.penalty == "gp" or self.r1_weight > 0 or self.grad_norm != "none"


class Critic(nn.Module):
    """A per-example scoring network `net` with the configured objective and constraints.

    Spectral normalization is applied to `net` in place; with gradient normalization `net` is
    wrapped, and the wrapper is what scores everywhere (critic and generator losses, penalties).
    Call `clip_()` before each use of the weights (it is a no-op without `clip`).
    """

    def __init__(self, cfg: CriticConfig, net: nn.Module):
        super().__init__()
        self.cfg = cfg
        self.objective: Objective = build_objective(cfg.objective, cfg.divergence, cfg.fgan_generator)
        if cfg.spectral_norm:
            apply_spectral_norm(net)
        self.net: nn.Module = (net if cfg.grad_norm == "none"
                               else GradNormCritic(net, cfg.grad_norm, cfg.grad_norm_eps, cfg.grad_norm_k))
        self._penalty: Callable[..., Tensor] | None = INTERPOLATE_PENALTIES.get(cfg.penalty)
        self.clip_()

    def forward(self, x: Tensor) -> Tensor:
        """Scores (B,)."""
        return self.score(x)

    def score(self, x: Tensor) -> Tensor:
        """Scores (B,) of a batch (gradient-normalised when grad_norm is set). The losses call this
        method rather than the module itself, sparing nn.Module's call machinery once per call."""
        s = self.net(x)
        return s if s.ndim == 1 else s.flatten()

    def clip_(self) -> None:
        """Weight clipping, applied before every use of the critic (after the previous step)."""
        if self.cfg.clip is not None:
            clip_weights_(self.net, self.cfg.clip)

    def critic_loss(self, real: Tensor, fake: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Objective plus penalties, with logs; both inputs must already be detached from the
        networks on the other side (generator, encoder)."""
        real_s, fake_s = self.score(real), self.score(fake)
        return self.add_penalties(self.objective.critic_loss(real_s, fake_s), real, fake, real_s, fake_s)

    def add_penalties(self, loss: Tensor, real: Tensor, fake: Tensor, real_s: Tensor,
                      fake_s: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """`loss` (the objective's critic term on scores real_s, fake_s) plus the weighted penalties
        on the detached inputs, and the logs."""
        cfg = self.cfg
        # Logs are detached here (means of detached scores: no autograd nodes for them).
        logs = {"critic_loss": loss.detach(), "d_real": real_s.detach().mean(),
                "d_fake": fake_s.detach().mean()}
        if self._penalty is not None:
            pen = self._penalty(self.score, real, fake, cfg.penalty_mode, cfg.penalty_power)
            loss = loss + cfg.penalty_weight * pen
            logs["penalty"] = pen.detach()
        if cfg.r1_weight > 0:
            r1 = r1_penalty(self.score, real)
            loss = loss + cfg.r1_weight * r1
            logs["r1"] = r1.detach()
        return loss, logs

    def generator_loss(self, fake: Tensor) -> Tensor:
        """The objective's generator loss on attached fakes: move them towards the real side. The
        caller backpropagates it into the other networks only (the trainer's backward(inputs=...))."""
        return self.objective.generator_loss(self.score(fake))


__all__ = ["Critic", "CriticConfig", "CriticNorm"]
