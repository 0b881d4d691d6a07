"""The encoder/decoder ("generator") side of ALI/BiGAN, chosen by name, on critic scores of the
encoder's pairs (x, E(x)) (the critic's real side) and the decoder's pairs (G(z), z)."""

from __future__ import annotations

from torch import Tensor

from genlab.adversarial.objectives import Objective


def swapped_labels(objective: Objective, enc_scores: Tensor, dec_scores: Tensor) -> Tensor:
    """The critic's loss with the two sides swapped: encoder pairs pushed to the decoder side and
    back, the label-flipped ("inverted") objective BiGAN trains with (Donahue et al. 2017,
    arXiv:1605.09782) in place of the minimax one. With the non-saturating objective:
    softplus(s_enc) + softplus(-s_dec)."""
    return objective.critic_loss(dec_scores, enc_scores)


def vi_both_towards_encoder(objective: Objective, enc_scores: Tensor, dec_scores: Tensor) -> Tensor:
    """The VI view's loss (Su, arXiv:1807.05936; https://kexue.fm/archives/5716): after
    dropping two KL terms, -E log D(x, E(x)) - E log D(G(z), z), the objective's generator loss on
    *both* pairs, so both raise the critic's score; Su reports it matches standard ALI."""
    return objective.generator_loss(enc_scores) + objective.generator_loss(dec_scores)


GENERATOR_LOSSES = {"swap": swapped_labels, "vi": vi_both_towards_encoder}

__all__ = ["GENERATOR_LOSSES", "swapped_labels", "vi_both_towards_encoder"]
