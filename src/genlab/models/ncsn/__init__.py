"""Noise-conditional score networks (NCSN: Song & Ermon 2019, arXiv:1907.05600; NCSNv2: Song & Ermon
2020, arXiv:2006.09011).

One idea per module: `noise` (sigma_1 from the data, NCSNv2's number of levels and step size),
`score` (the score s(x, sigma) = net(x, t(sigma)) / sigma), `loss` (denoising score matching with
lambda(sigma) = sigma^2) and `model` (the `NCSN` trained by genlab's trainer, sampling by the shared
annealed Langevin dynamics of `genlab.sampling`).
"""

from genlab.models.ncsn.loss import dsm_loss
from genlab.models.ncsn.model import NCSN
from genlab.models.ncsn.noise import (
    largest_pairwise_distance,
    ncsnv2_eps,
    ncsnv2_levels,
    ncsnv2_ratio,
    shell_overlap,
    variance_ratio_after,
)
from genlab.models.ncsn.score import NoiseConditionalScore

__all__ = ["NCSN", "NoiseConditionalScore", "dsm_loss", "largest_pairwise_distance", "ncsnv2_levels",
           "ncsnv2_eps",
           "ncsnv2_ratio", "shell_overlap", "variance_ratio_after"]
