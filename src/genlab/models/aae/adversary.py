"""A critic with a GAN objective and Lipschitz constraints picked by name: the adversarial part of
the AAE (critic on codes) and of ALI/BiGAN (critic on (x, z) pairs).

Everything is reused from `genlab.models.gan`: the objectives (`build_objective`), the gradient /
finite-difference / R1 penalties, weight clipping, spectral normalization and gradient
normalization. Convention as there: the critic scores its *real* side high (the prior's codes for
the AAE, the encoder's pairs (x, E(x)) for ALI).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor, nn

from genlab.core.checks import check_int, check_range, choice
from genlab.models.gan.gradnorm import GRAD_NORM_MODES, GradNormCritic
from genlab.models.gan.objectives import DIVERGENCES, FGAN, OBJECTIVES, build_objective
from genlab.models.gan.penalties import MODES as PENALTY_MODES
from genlab.models.gan.penalties import clip_weights_, finite_difference_penalty, gradient_penalty, r1_penalty
from genlab.models.gan.spectral import apply_spectral_norm
from genlab.nets.norm import NORMS

# name -> penalty(critic, real, fake, mode, power) on real/fake interpolates; "none": no penalty
PENALTIES: dict[str, Callable[..., Tensor] | None] = {
    "none": None, "gp": gradient_penalty, "fd": finite_difference_penalty}


@dataclass
class AdversaryConfig:
    """The critic's network size, objective and constraints (`model.critic.*` in a run config)."""

    objective: str = "nonsaturating"  # one of genlab.models.gan.objectives.OBJECTIVES
    divergence: str = "kl"  # fgan only
    fgan_generator: str = "alt"  # fgan only: alt | minimax
    penalty: str = "none"  # none | gp | fd
    penalty_mode: str = "two_sided"  # two_sided | one_sided
    penalty_weight: float = 10.0
    penalty_power: float = 2.0
    r1_weight: float = 0.0  # R1 on the real side (0: off)
    clip: float | None = None  # weight clipping to [-clip, clip]
    spectral_norm: bool = False
    grad_norm: str = "none"  # none | gn | gran
    n_critic: int = 1  # critic updates per round
    hidden: int = 128  # critic MLP width
    depth: int = 2  # critic MLP hidden layers
    norm: str = "none"  # none | layer (batch norm would mix examples, breaking the penalties)

    def __post_init__(self) -> None:
        choice(self.objective, OBJECTIVES, "model.critic.objective")
        choice(self.penalty, PENALTIES, "model.critic.penalty")
        choice(self.penalty_mode, PENALTY_MODES, "model.critic.penalty_mode")
        choice(self.grad_norm, ("none", *GRAD_NORM_MODES), "model.critic.grad_norm")
        choice(self.norm, [n for n in NORMS if n != "batch"], "model.critic.norm")
        choice(self.divergence, DIVERGENCES, "model.critic.divergence")
        choice(self.fgan_generator, FGAN.GENERATOR_LOSSES, "model.critic.fgan_generator")
        for name, low in (("n_critic", 1), ("hidden", 1), ("depth", 0)):
            check_int(f"model.critic.{name}", getattr(self, name), low)
        for name in ("penalty_weight", "r1_weight"):
            check_range(f"model.critic.{name}", getattr(self, name), 0.0)
        check_range("model.critic.penalty_power", self.penalty_power, 0.0, low_open=True)
        if self.clip is not None:
            check_range("model.critic.clip", self.clip, 0.0, low_open=True)


class Adversary(nn.Module):
    """Wraps a per-example critic (B,) with the configured objective and constraints."""

    def __init__(self, cfg: AdversaryConfig, critic: nn.Module):
        super().__init__()
        self.cfg = cfg
        self.objective = build_objective(cfg.objective, cfg.divergence, cfg.fgan_generator)
        if cfg.spectral_norm:
            apply_spectral_norm(critic)
        # With gradient normalization the wrapper is the critic in every step (as in the GAN).
        self.critic = critic if cfg.grad_norm == "none" else GradNormCritic(critic, cfg.grad_norm)
        self.clip_()

    def score(self, v: Tensor) -> Tensor:
        return self.critic(v).flatten()

    def clip_(self) -> None:
        """Weight clipping, applied before every use of the critic (after the previous step)."""
        if self.cfg.clip is not None:
            clip_weights_(self.critic, self.cfg.clip)

    def critic_loss(self, real: Tensor, fake: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Objective plus penalties; both inputs must already be detached from the other networks."""
        cfg = self.cfg
        real_s, fake_s = self.score(real), self.score(fake)
        loss = self.objective.critic_loss(real_s, fake_s)
        logs = {"critic_loss": loss.detach(), "d_real": real_s.mean().detach(),
                "d_fake": fake_s.mean().detach()}
        penalty = PENALTIES[cfg.penalty]
        if penalty is not None:
            pen = penalty(self.score, real, fake, cfg.penalty_mode, cfg.penalty_power)
            loss = loss + cfg.penalty_weight * pen
            logs["penalty"] = pen.detach()
        if cfg.r1_weight > 0:
            r1 = r1_penalty(self.score, real)
            loss = loss + cfg.r1_weight * r1
            logs["r1"] = r1.detach()
        return loss, logs

    def generator_loss(self, fake: Tensor) -> Tensor:
        """The objective's generator loss on attached fakes: move them towards the real side."""
        return self.objective.generator_loss(self.score(fake))


__all__ = ["PENALTIES", "Adversary", "AdversaryConfig"]
