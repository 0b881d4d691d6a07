"""What the adversarial autoencoder and ALI/BiGAN share (so neither family imports the other): an
encoder, a decoder and a critic
(`genlab.adversarial.Critic`, configured by `model.critic.*`), trained as the three parameter groups
"encoder", "decoder" and "critic", with samples decoded from prior draws z ~ p(z).

Both are the GAN of the variational-inference view (Su, arXiv:1807.05936) with a critic on codes
(AAE, arXiv:1511.05644) or on (x, z) pairs (ALI, arXiv:1606.00704); each family's module says how
its encoder, decoder and critic are built and trained.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from genlab.adversarial.critic import Critic, CriticConfig
from genlab.adversarial.latents import PriorName, sample_prior
from genlab.core.checks import check_int
from genlab.core.protocol import DataSpec, Model
from genlab.nets import mlp_critic
from genlab.nets.autoencoder import NetKind
from genlab.nets.norm import Norm


@dataclass
class AdversarialAutoencoderConfig:
    """Options common to the AAE and ALI (`model.*`); each family's Config adds its own."""

    latent_dim: int = 8
    prior: PriorName = "normal"  # genlab.adversarial.latents
    net: NetKind = "mlp"  # encoder and decoder (`genlab.nets.autoencoder.encoder_decoder`)
    hidden: int = 256  # MLP width, or the conv nets' base channel count
    depth: int = 2  # MLP hidden layers
    # Normalisation in the decoder: none | batch | layer. Adversarially trained ReLU decoders
    # without it can die into a constant output (measured: ALI on Fashion-MNIST); the ALI and
    # BiGAN generators use batch norm.
    decoder_norm: Norm = "none"
    # The critic's objective, constraints and MLP (width / depth default to `hidden` / `depth`).
    critic: CriticConfig = field(default_factory=CriticConfig)

    def __post_init__(self) -> None:
        for name, low in (("latent_dim", 1), ("hidden", 1), ("depth", 0)):
            check_int(f"model.{name}", getattr(self, name), low)

    def needs_double_backward(self) -> bool:
        """Whether the critic's constraints differentiate through input gradients, which
        torch.compile cannot do (`train.compile`)."""
        return self.critic.needs_double_backward()


class AdversarialAutoencoder(Model):
    """Holds `encoder`, `decoder` and `critic` (set by the subclass) for examples of `shape`."""

    encoder: nn.Module
    decoder: nn.Module
    critic: Critic

    def __init__(self, cfg: AdversarialAutoencoderConfig, spec: DataSpec | tuple[int, ...]):
        spec = DataSpec.coerce(spec)
        if cfg.net == "conv":
            spec.require("model.net=conv", square=True)  # (C, H, H) examples
        super().__init__()
        self.cfg, self.shape = cfg, tuple(spec.shape)
        # Follows the model's device and dtype (.to(), .double()) and is not saved: where prior
        # draws are made, read without walking a network's parameters on every draw.
        self.register_buffer("_probe", torch.empty(0), persistent=False)

    def mlp_critic(self, n_in: int) -> Critic:
        """The configured critic on an MLP over `n_in` inputs (codes, or joint (x, z) vectors)."""
        c = self.cfg.critic
        net = mlp_critic((n_in,), self.cfg.hidden if c.hidden is None else c.hidden,
                         self.cfg.depth if c.depth is None else c.depth, c.norm)
        return Critic(c, net)

    def param_groups(self) -> dict[str, list]:
        return {"encoder": list(self.encoder.parameters()), "decoder": list(self.decoder.parameters()),
                "critic": list(self.critic.parameters())}

    def prior(self, n: int) -> Tensor:
        """n draws z ~ p(z), (n, latent_dim), on the model's device and dtype."""
        p = self._probe
        return sample_prior(n, self.cfg.latent_dim, self.cfg.prior, p.device, p.dtype)

    def check_input(self, x: Tensor) -> None:
        """ValueError unless x is a batch of examples of the shape this model was built for."""
        if tuple(x.shape[1:]) != self.shape:
            raise ValueError(f"{type(self).__name__} built for examples of shape {self.shape}, got a "
                             f"batch of shape {tuple(x.shape)}")


__all__ = ["AdversarialAutoencoder", "AdversarialAutoencoderConfig"]
