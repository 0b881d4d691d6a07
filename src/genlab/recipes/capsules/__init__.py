"""Matrix capsules with EM routing (Hinton, Sabour & Frosst, ICLR 2018; https://kexue.fm/archives/5155).

`em_routing` (routing.py), the capsule layers (layers.py), the spread loss (loss.py) and a small capsule
classifier `CapsNet` (model.py) that genlab's trainer fits on digits or Fashion-MNIST
(`python -m genlab.recipes.capsules`).
"""

from genlab.recipes.capsules.layers import ClassCaps, ConvCaps, PrimaryCaps
from genlab.recipes.capsules.loss import spread_loss, spread_margin
from genlab.recipes.capsules.model import CapsNet
from genlab.recipes.capsules.routing import Routed, em_routing, inverse_temperatures

__all__ = ["CapsNet", "ClassCaps", "ConvCaps", "PrimaryCaps", "Routed", "em_routing", "inverse_temperatures",
           "spread_loss", "spread_margin"]
