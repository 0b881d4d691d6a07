"""The generator regularizer of the variational-inference view of GANs.

Su 2018, "Variational Inference: A Unified Framework of Generative Models and Some Revelations"
(arXiv:1807.05936, sec. 3; https://kexue.fm/archives/5716): the exact generator objective of the
joint-KL view contains KL(q(x) || q_old(x)), the divergence from the generator's distribution
before the update. Replacing the Dirac q(x|z) by narrow Gaussians turns it into
lambda E_z ||G(z) - G_old(z)||^2, an anchor on the pre-update output for the same noise -- a
trust region against jumping to the critic's arg-max (mode collapse).
"""

from __future__ import annotations

from torch import Tensor


def anchor_penalty(fake: Tensor, anchor: Tensor) -> Tensor:
    """mean over all elements of (G(z) - G_old(z))^2; `anchor` = G_old(z) is detached here
    (it is a constant target computed before the generator updates).

    A per-element mean (as in Su's reference code, weight 5 for 64x64 images in [-1, 1]), so the
    weight does not grow with the image size; multiply by the example size for the per-sample sum.
    """
    return (fake - anchor.detach()).square().mean()


__all__ = ["anchor_penalty"]
