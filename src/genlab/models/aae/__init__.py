"""Adversarial autoencoder (Makhzani et al. 2015, arXiv:1511.05644).

`model` (the AAE), `base` (what the AAE and ALI share: encoder, decoder and a
`genlab.adversarial.Critic`), `nets` (encoder/decoder bodies) and `reconstruction` (the named
reconstruction terms).
"""

from genlab.models.aae.model import AAE
from genlab.models.aae.reconstruction import RECONSTRUCTIONS

__all__ = ["AAE", "RECONSTRUCTIONS"]
