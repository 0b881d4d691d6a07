"""Discrete distributions built as argmax of noisy logits (https://kexue.fm/archives/9085).

`noise_argmax_probs` gives P[argmax(logits + noise) = i] by log-space quadrature (Gumbel noise:
softmax; Gaussian: multinomial probit); `sample_noise_argmax` draws exact samples;
`gumbel_softmax` and `straight_through` are the differentiable relaxations (arXiv:1611.01144,
arXiv:1611.00712).
"""

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
    "NODES", "NOISES", "DistributionNoise", "GaussianNoise", "GumbelNoise", "NoiseLaw", "gumbel_softmax",
    "noise_argmax_probs", "perturb_logits", "quadrature_rule", "resolve_noise", "sample_noise_argmax",
    "straight_through",
]
