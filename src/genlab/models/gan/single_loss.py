"""Single-loss GAN training with stop-gradients (https://kexue.fm/archives/6387).

For a separable critic loss f(D(x)) + g(D(x_fake)) and a generator loss h(D(G(z))):

    L = f(D(x)) + g(D(sg[G(z)])) + lambda * [h(D(G(z))) - h(D(sg[G(z)]))]

The bracket is identically zero in value. Its gradient w.r.t. the critic cancels (both terms are the
same function of the critic's parameters), and w.r.t. the generator only the first term has a path,
so one backward pass gives the critic exactly grad(critic loss) and the generator exactly
lambda * grad(generator loss): a simultaneous 1:1 update from one loss. Exact cancellation needs a
deterministic critic (no dropout). With Adam a constant lambda is mostly normalised away; use
separate learning rates per parameter group for a two-time-scale update.
"""

from __future__ import annotations

from torch import Tensor

from genlab.models.gan.objectives import Objective


def single_step_loss(objective: Objective, real_scores: Tensor, fake_scores_sg: Tensor,
                     fake_scores: Tensor, weight: float = 1.0) -> Tensor:
    """The combined loss from the critic's scores on real data, on sg[G(z)] (critic input detached
    from the generator) and on G(z) (attached); `weight` is lambda."""
    critic = objective.critic_loss(real_scores, fake_scores_sg)
    generator = objective.generator_loss(fake_scores) - objective.generator_loss(fake_scores_sg)
    return critic + weight * generator


__all__ = ["single_step_loss"]
