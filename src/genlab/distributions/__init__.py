"""Probability maths shared by the model families.

Gaussian log-densities and the KL to N(0, I) (`gaussian`); the importance-sampled log-likelihood
estimator of latent-variable models (`importance_sampling`, arXiv:1509.00519).

Discrete distributions built as argmax of noisy logits (https://kexue.fm/archives/9085):
`noise_argmax_probs` gives P[argmax(logits + noise) = i] by log-space quadrature (Gumbel noise:
softmax; Gaussian: multinomial probit); `sample_noise_argmax` draws exact samples;
`gumbel_softmax` and `straight_through` are the differentiable relaxations (arXiv:1611.01144,
arXiv:1611.00712).
"""

from genlab.distributions.gaussian import LOG_2PI, kl_std_normal, normal_log_prob, std_normal_log_prob
from genlab.distributions.importance_sampling import importance_sampled_log_likelihood
from genlab.distributions.noise import (
    NOISES,
    DistributionNoise,
    GaussianNoise,
    GumbelNoise,
    NoiseLaw,
    resolve_noise,
)
from genlab.distributions.noise_argmax import NODES, noise_argmax_probs, quadrature_rule
from genlab.distributions.relaxation import gumbel_softmax, straight_through
from genlab.distributions.sampling import perturb_logits, sample_noise_argmax

__all__ = [
    "LOG_2PI", "NODES", "NOISES", "DistributionNoise", "GaussianNoise", "GumbelNoise", "NoiseLaw",
    "gumbel_softmax", "importance_sampled_log_likelihood", "kl_std_normal", "noise_argmax_probs",
    "normal_log_prob", "perturb_logits", "quadrature_rule", "resolve_noise", "sample_noise_argmax",
    "std_normal_log_prob", "straight_through",
]
