"""Denoising diffusion (DDPM, Ho et al. 2020, arXiv:2006.11239; DDIM, Song et al. 2021,
arXiv:2010.02502).

One idea per module: `schedules` (β_t, ᾱ_t and their continuous-time extension), `prediction`
(ε / x_0 / v targets and exact conversions), `samplers` (DDPM ancestral and DDIM), `bound` (the
variational bound, Ho et al. eq. 5), `pf_ode` (the probability-flow ODE of the continuous VP
process, for exact likelihoods) and `model` (the `Diffusion` model trained by genlab's trainer).
"""

from genlab.models.diffusion.bound import variational_bound
from genlab.models.diffusion.model import Diffusion
from genlab.models.diffusion.pf_ode import probability_flow
from genlab.models.diffusion.samplers import sample_ddim, sample_ddpm, timesteps
from genlab.models.diffusion.schedules import NoiseSchedule, cosine_betas, linear_betas

__all__ = ["Diffusion", "NoiseSchedule", "cosine_betas", "linear_betas", "probability_flow", "sample_ddim",
           "sample_ddpm", "timesteps", "variational_bound"]
