"""The GAN family: the model (`model.GAN`) and its own parts, one idea per module.

`single_loss` (stop-gradient single-loss training), `vi` (the VI anchor regularizer) and `nets`
(MLP, DCGAN and ResNet generators and critics). The critic with its objectives, f-divergences,
penalties, spectral and gradient normalization, and the latent samplers are shared with the other
adversarial families in `genlab.adversarial`. Convention: the critic scores real data high.
"""

from genlab.models.gan.model import GAN
from genlab.models.gan.nets import build_nets
from genlab.models.gan.single_loss import single_step_loss, stop_gradient_loss
from genlab.models.gan.vi import anchor_penalty

__all__ = ["GAN", "anchor_penalty", "build_nets", "single_step_loss", "stop_gradient_loss"]
