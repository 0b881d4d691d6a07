"""The contrastive-divergence loss of an energy-based model with the energy-square regulariser.

For q(x) = exp(-E(x)) / Z, grad_theta E_p[-log q] = E_p[grad E] - E_q[grad E]; with negatives x- drawn
(approximately) from q, the surrogate mean E(x+) - mean E(x-) has that gradient (Du & Mordatch 2019,
arXiv:1903.08689; https://kexue.fm/archives/6612). The regulariser penalises BOTH squared
energies, + alpha (mean E(x+)^2 + mean E(x-)^2), as in the paper and the official code
(openai/ebm_code_release, objective 'cd', alpha = 1). The blog writes a minus sign on the negative
term; genlab's spec reads that as a typo and so does this module.
"""

from __future__ import annotations

from torch import Tensor


def cd_loss(e_pos: Tensor, e_neg: Tensor, alpha: float = 1.0) -> tuple[Tensor, dict[str, Tensor]]:
    """mean E(x+) - mean E(x-) + alpha (mean E(x+)^2 + mean E(x-)^2), and its parts for logging.

    `e_pos` are energies of data, `e_neg` of negatives that must already be detached from the
    sampler (only the energy net's parameters get a gradient). Low energy = likely.
    """
    contrast = e_pos.mean() - e_neg.mean()
    reg = e_pos.pow(2).mean() + e_neg.pow(2).mean()
    loss = contrast + alpha * reg
    logs = {"cd": contrast.detach(), "energy_sq": reg.detach(), "e_pos": e_pos.mean().detach(),
            "e_neg": e_neg.mean().detach()}
    return loss, logs


__all__ = ["cd_loss"]
