"""ALI / BiGAN (Dumoulin et al. 2017, arXiv:1606.00704; Donahue et al. 2017, arXiv:1605.09782).

`model` (the ALI model) and `generator_losses` (the encoder/decoder side: swapped labels or the VI
view's). The critic and its constraints are `genlab.adversarial.Critic` (`model.critic.*`).
"""

from genlab.models.ali.generator_losses import GENERATOR_LOSSES
from genlab.models.ali.model import ALI

__all__ = ["ALI", "GENERATOR_LOSSES"]
