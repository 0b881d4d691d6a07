"""Parts shared by the adversarial families (GAN, AAE, ALI/BiGAN) and by other models that borrow
them (the EBM's spectral normalization, Deep InfoMax's f-divergences). Below `genlab.models`: it
imports only core, nets and regularizers.

One idea per module: `objectives` (minimax, non-saturating, hinge, least squares, Wasserstein,
f-GAN), `fdivergence` (the eight f-divergences), `penalties` (gradient / finite-difference / R1
penalties, weight clipping), `spectral` (spectral normalization), `gradnorm` (GN / GraN critics),
`latents` (normal / uniform prior, truncation, hubness sampling) and `critic` (`Critic` and
`CriticConfig`: a scoring network with an objective and constraints chosen by name).
Convention: the critic scores its real side high.
"""

from genlab.adversarial.critic import Critic, CriticConfig
from genlab.adversarial.fdivergence import DIVERGENCES, FDivergence, get_divergence
from genlab.adversarial.gradnorm import GradNormCritic
from genlab.adversarial.latents import HubnessLatentSampler, sample_prior, truncated_normal
from genlab.adversarial.objectives import OBJECTIVES, build_objective
from genlab.adversarial.penalties import (
    clip_weights_,
    finite_difference_penalty,
    finite_difference_ratio,
    gradient_penalty,
    r1_penalty,
)
from genlab.adversarial.spectral import apply_spectral_norm, spectral_normalized_layers

__all__ = ["DIVERGENCES", "OBJECTIVES", "Critic", "CriticConfig", "FDivergence", "GradNormCritic",
           "HubnessLatentSampler", "apply_spectral_norm", "build_objective", "clip_weights_",
           "finite_difference_penalty", "finite_difference_ratio", "get_divergence",
           "gradient_penalty", "r1_penalty", "sample_prior", "spectral_normalized_layers",
           "truncated_normal"]
