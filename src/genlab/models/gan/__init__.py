"""The GAN family: the model (`model.GAN`) and its parts, one idea per module.

One idea per module: `objectives` (minimax, non-saturating, hinge, least squares, Wasserstein,
f-GAN), `fdivergence` (the eight f-divergences), `penalties` (gradient / finite-difference / R1
penalties, weight clipping), `spectral` (spectral normalization), `gradnorm` (GN / GraN critics),
`single_loss` (stop-gradient single-loss training), `vi` (the VI anchor regularizer), `latents`
(prior, truncation, hubness sampling) and `nets` (MLP, DCGAN and ResNet generators and critics).
Convention: the critic scores real data high.
"""

from genlab.models.gan.fdivergence import DIVERGENCES, FDivergence, get_divergence
from genlab.models.gan.gradnorm import GradNormCritic
from genlab.models.gan.latents import HubnessLatentSampler, sample_prior, truncated_normal
from genlab.models.gan.model import GAN
from genlab.models.gan.objectives import OBJECTIVES, build_objective
from genlab.models.gan.penalties import (
    clip_weights_,
    finite_difference_penalty,
    finite_difference_ratio,
    gradient_penalty,
    r1_penalty,
)
from genlab.models.gan.single_loss import single_step_loss
from genlab.models.gan.spectral import apply_spectral_norm
from genlab.models.gan.vi import anchor_penalty

__all__ = ["DIVERGENCES", "GAN", "OBJECTIVES", "FDivergence", "GradNormCritic", "HubnessLatentSampler",
           "anchor_penalty", "apply_spectral_norm", "build_objective", "clip_weights_",
           "finite_difference_penalty", "finite_difference_ratio", "get_divergence",
           "gradient_penalty", "r1_penalty", "sample_prior", "single_step_loss", "truncated_normal"]
