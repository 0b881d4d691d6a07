"""GAN objectives as small (critic loss, generator loss) pairs over critic scores.

One convention throughout genlab: the critic scores real data HIGH. Scores are the critic's raw
outputs (logits for the BCE-based losses), shape (B,); every loss is a batch mean. Several reference
codes (e.g. https://kexue.fm/archives/4439) use the opposite sign: swap real/fake scores' signs to
convert.

All critic losses are *separable*, L_D = mean f(real) + mean g(fake), which is what single-loss
training (`genlab.models.gan.single_loss`) needs. `ObjectiveName` lists the names of `OBJECTIVES` (a
config `Literal`); `build_objective` makes one.
"""

from __future__ import annotations

from typing import Literal, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor

from genlab.adversarial.fdivergence import DIVERGENCES, FDivergence, get_divergence
from genlab.core.checks import choice


class Objective(Protocol):
    """What the GAN model needs from an objective."""

    def critic_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor: ...

    def generator_loss(self, fake_scores: Tensor) -> Tensor: ...


class Minimax:
    """Original GAN (Goodfellow et al. 2014, arXiv:1406.2661, eq. 1) on logits s = D(x).

    Critic: BCE, -log sigmoid(s_real) - log(1 - sigmoid(s_fake)) = softplus(-s_real) + softplus(s_fake).
    Generator (saturating): minimise log(1 - sigmoid(s_fake)) = -softplus(s_fake).
    """

    def critic_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean()

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        return -F.softplus(fake_scores).mean()

    def reversal_scale(self) -> float:
        """h'(s) / g'(s) for the fake terms: the generator's loss is minus the critic's (single-loss
        training reverses the critic's gradient; `genlab.models.gan.single_loss`)."""
        return -1.0


class NonSaturating(Minimax):
    """The -log D trick of arXiv:1406.2661 (sec. 3): generator minimises softplus(-s_fake)."""

    reversal_scale = None  # type: ignore[assignment]  # no constant ratio; a per-row one instead

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        return F.softplus(-fake_scores).mean()

    def row_reversal_scale(self, fake_scores: Tensor) -> Tensor:
        """h'(s) / g'(s) = -sigmoid(-s) / sigmoid(s) = -exp(-s), per fake row."""
        return -torch.exp(-fake_scores)


class Hinge:
    """Hinge loss (Lim & Ye 2017, arXiv:1705.02894; Miyato et al. 2018, arXiv:1802.05957 eq. 16-17).

    Critic: relu(1 - s_real) + relu(1 + s_fake); generator: -s_fake.
    """

    def critic_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        return -fake_scores.mean()


class LeastSquares:
    """LSGAN with 0-1 targets (Mao et al. 2017, arXiv:1611.04076, eq. 2 with a=0, b=c=1).

    Critic: 1/2 (s_real - 1)^2 + 1/2 s_fake^2; generator: 1/2 (s_fake - 1)^2.
    """

    def critic_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return 0.5 * (real_scores - 1).square().mean() + 0.5 * fake_scores.square().mean()

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        return 0.5 * (fake_scores - 1).square().mean()


class Wasserstein:
    """WGAN (Arjovsky et al. 2017, arXiv:1701.07875; kexue.fm/archives/4439).

    Critic: mean s_fake - mean s_real (needs a Lipschitz constraint); generator: -mean s_fake.
    """

    def critic_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return fake_scores.mean() - real_scores.mean()

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        return -fake_scores.mean()

    def reversal_scale(self) -> float:
        """h'(s) / g'(s) for the fake terms (see `Minimax.reversal_scale`)."""
        return -1.0


FGANGenerator = Literal["alt", "minimax"]


class FGAN:
    """f-GAN (Nowozin et al. 2016, arXiv:1606.00709, eq. 6; kexue.fm/archives/6016).

    The critic maximises E_p[T(v)] - E_q[g(T(v))] with v the raw score, T the divergence's output
    activation and g its convex conjugate; the fused g(T(v)) is used for stability. Generator:
    `alt` maximises E_q[T(v)] (the paper's practical choice, = non-saturating for the GAN
    divergence); `minimax` minimises the critic's objective, i.e. -E_q[g(T(v))].
    """

    GENERATOR_LOSSES: tuple[FGANGenerator, ...] = ("alt", "minimax")

    def __init__(self, divergence: str | FDivergence, generator: str = "alt"):
        self.div = get_divergence(divergence) if isinstance(divergence, str) else divergence
        choice(generator, self.GENERATOR_LOSSES, "f-GAN generator loss")
        self.generator = generator

    def critic_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return -self.div.activation(real_scores).mean() + self.div.fused_conjugate(fake_scores).mean()

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        if self.generator == "alt":
            return -self.div.activation(fake_scores).mean()
        return -self.div.fused_conjugate(fake_scores).mean()

    def reversal_scale(self) -> float | None:
        """-1 for the `minimax` generator (minus the critic's fake term), None for `alt`."""
        return -1.0 if self.generator == "minimax" else None


ObjectiveName = Literal["minimax", "nonsaturating", "hinge", "least_squares", "wasserstein", "fgan"]

OBJECTIVES: dict[str, type] = {
    "minimax": Minimax,
    "nonsaturating": NonSaturating,
    "hinge": Hinge,
    "least_squares": LeastSquares,
    "wasserstein": Wasserstein,
    "fgan": FGAN,
}


def build_objective(name: str, divergence: str = "kl", fgan_generator: str = "alt") -> Objective:
    """The objective called `name` (one of `OBJECTIVES`); `divergence` is used by `fgan` only."""
    choice(name, OBJECTIVES, "GAN objective")
    if name == "fgan":
        return FGAN(divergence, fgan_generator)
    return OBJECTIVES[name]()


__all__ = ["DIVERGENCES", "FGAN", "OBJECTIVES", "FGANGenerator", "Hinge", "LeastSquares", "Minimax",
           "NonSaturating", "Objective", "ObjectiveName", "Wasserstein", "build_objective"]
