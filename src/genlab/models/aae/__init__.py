"""Adversarial autoencoder (Makhzani et al. 2015, arXiv:1511.05644).

`model` (the AAE), `adversary` (a critic with a GAN objective and Lipschitz constraints chosen by
name, shared with ALI), `nets` (encoder/decoder bodies) and `reconstruction` (the named
reconstruction terms).
"""

from genlab.models.aae.adversary import PENALTIES, Adversary, AdversaryConfig
from genlab.models.aae.model import AAE
from genlab.models.aae.nets import build_autoencoder
from genlab.models.aae.reconstruction import RECONSTRUCTIONS

__all__ = ["AAE", "PENALTIES", "RECONSTRUCTIONS", "Adversary", "AdversaryConfig", "build_autoencoder"]
