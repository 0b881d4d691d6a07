"""What the adversarial autoencoder and ALI/BiGAN share: an encoder, a decoder and an adversary,
trained as the three parameter groups "encoder", "decoder" and "critic", with samples decoded from
prior draws z ~ p(z).

Both are the GAN of the variational-inference view (Su, arXiv:1807.05936) with a critic on codes
(AAE, arXiv:1511.05644) or on (x, z) pairs (ALI, arXiv:1606.00704); each family's module says how
its encoder, decoder and critic are built and trained.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor, nn

from genlab.core.checks import check_int, choice
from genlab.core.protocol import DataSpec, Model
from genlab.models.aae.adversary import Adversary, AdversaryConfig
from genlab.models.aae.nets import NETS
from genlab.models.gan.latents import PRIORS, sample_prior
from genlab.nets.norm import NORMS


@dataclass
class AdversarialAutoencoderConfig:
    """Options common to the AAE and ALI (`model.*`); each family's Config adds its own."""

    latent_dim: int = 8
    prior: str = "normal"  # normal | uniform (genlab.models.gan.latents)
    net: str = "mlp"  # mlp | conv (encoder and decoder)
    hidden: int = 256  # MLP width, or the conv nets' base channel count
    depth: int = 2  # MLP hidden layers
    # Normalisation in the decoder: none | batch | layer. Adversarially trained ReLU decoders
    # without it can die into a constant output (measured: ALI on Fashion-MNIST); the ALI and
    # BiGAN generators use batch norm.
    decoder_norm: str = "none"
    critic: AdversaryConfig = field(default_factory=AdversaryConfig)

    def __post_init__(self) -> None:
        for name, low in (("latent_dim", 1), ("hidden", 1), ("depth", 0)):
            check_int(f"model.{name}", getattr(self, name), low)
        choice(self.prior, PRIORS, "model.prior")
        choice(self.net, NETS, "model.net")
        choice(self.decoder_norm, NORMS, "model.decoder_norm")


class AdversarialAutoencoder(Model):
    """Holds `encoder`, `decoder` and `adversary` (set by the subclass) for examples of `shape`."""

    encoder: nn.Module
    decoder: nn.Module
    adversary: Adversary

    def __init__(self, cfg: AdversarialAutoencoderConfig, spec: DataSpec | tuple[int, ...]):
        super().__init__()
        self.cfg, self.shape = cfg, tuple(DataSpec.coerce(spec).shape)

    def param_groups(self) -> dict[str, list]:
        return {"encoder": list(self.encoder.parameters()), "decoder": list(self.decoder.parameters()),
                "critic": list(self.adversary.parameters())}

    def prior(self, n: int) -> Tensor:
        """n draws z ~ p(z), (n, latent_dim), on the decoder's device and dtype."""
        p = next(self.decoder.parameters())
        return sample_prior(n, self.cfg.latent_dim, self.cfg.prior, p.device, p.dtype)

    def check_input(self, x: Tensor) -> None:
        """ValueError unless x is a batch of examples of the shape this model was built for."""
        if tuple(x.shape[1:]) != self.shape:
            raise ValueError(f"{type(self).__name__} built for examples of shape {self.shape}, got a "
                             f"batch of shape {tuple(x.shape)}")


__all__ = ["AdversarialAutoencoder", "AdversarialAutoencoderConfig"]
