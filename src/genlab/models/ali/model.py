"""Adversarially learned inference (ALI; Dumoulin et al. 2017, arXiv:1606.00704) and
bidirectional GAN (BiGAN; Donahue et al. 2017, arXiv:1605.09782).

An encoder q(z|x) and a decoder (generator) p(x|z) = delta(x - G(z)) with z ~ p(z) define two joint
distributions, q(x, z) = p_data(x) q(z|x) and p(x, z) = p(z) delta(x - G(z)); a critic D(x, z)
tells the encoder's pairs (its real side) from the decoder's, and encoder and decoder are trained
together to make the two joints agree. In the VI view (Su, arXiv:1807.05936;
https://kexue.fm/archives/5716) D(x, z) = p(1 | x, z), 1 marking encoder pairs.

* `encoder: gaussian` is ALI's reparameterised q(z|x) = N(mu(x), sigma(x)^2);
  `deterministic` is BiGAN's E(x).
* `generator_loss`: `swap` (the critic loss with sides swapped, BiGAN's practice) or `vi`
  (Su's: both pairs pushed to the encoder side), see `genlab.models.ali.generator_losses`.
* The critic is an MLP on the concatenation [flatten(x), z], so every penalty of
  `genlab.adversarial.penalties` applies to interpolated joint vectors unchanged.

Per step: `critic.n_critic` critic updates (inputs detached; fresh z and encoder noise each), then
one update of the groups "encoder" and "decoder" together (groups and prior:
`genlab.adversarial.autoencoder`). Samples are G(z), z ~ p(z).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from genlab.adversarial.autoencoder import AdversarialAutoencoder, AdversarialAutoencoderConfig
from genlab.core.protocol import Batch, DataSpec, StepContext, Update
from genlab.models.ali.generator_losses import GENERATOR_LOSSES
from genlab.models.registry import MODELS
from genlab.nets.autoencoder import encoder_decoder


def _gaussian(h: Tensor) -> tuple[Tensor, Tensor]:
    """(z = mu + sigma * eps reparameterised, mu) from the encoder output [mu, log sigma]."""
    mean, log_std = h.chunk(2, dim=-1)
    return mean + torch.randn_like(mean) * log_std.clamp(-10, 5).exp(), mean


def _deterministic(h: Tensor) -> tuple[Tensor, Tensor]:
    return h, h


# name -> (encoder outputs per latent dimension, output -> (sample, representation))
ENCODERS = {"gaussian": (2, _gaussian), "deterministic": (1, _deterministic)}
Encoder = Literal["gaussian", "deterministic"]  # the keys of ENCODERS
GeneratorLoss = Literal["swap", "vi"]  # the keys of GENERATOR_LOSSES
Output = Literal["none", "tanh", "sigmoid"]


@MODELS.register("ali")
class ALI(AdversarialAutoencoder):
    """Encoder, decoder and a joint critic D(x, z); groups encoder, decoder, critic."""

    @dataclass
    class Config(AdversarialAutoencoderConfig):
        latent_dim: int = 16
        encoder: Encoder = "gaussian"  # gaussian (ALI) | deterministic (BiGAN)
        output: Output = "none"  # decoder output activation
        generator_loss: GeneratorLoss = "swap"
        # inherited: prior, net, hidden, depth, decoder_norm, critic (the joint critic)

    cfg: Config

    def __init__(self, cfg: Config, spec: DataSpec | tuple[int, ...]):
        super().__init__(cfg, spec)
        width, self._posterior = ENCODERS[cfg.encoder]
        self.encoder, self.decoder = encoder_decoder(cfg.net, self.shape, width * cfg.latent_dim,
                                                       cfg.latent_dim, cfg.hidden, cfg.depth,
                                                       output=cfg.output, norm=cfg.decoder_norm)
        self.critic = self.mlp_critic(math.prod(self.shape) + cfg.latent_dim)
        self._generator_loss = GENERATOR_LOSSES[cfg.generator_loss]

    # ---------------------------------------------------------------- pieces
    def infer(self, x: Tensor) -> Tensor:
        """z ~ q(z|x) (reparameterised; E(x) for the deterministic encoder), (B, latent_dim)."""
        self.check_input(x)
        return self._posterior(self.encoder(x))[0]

    def encode(self, x: Tensor) -> Tensor:
        """The representation: the mean of q(z|x), (B, latent_dim)."""
        self.check_input(x)
        return self._posterior(self.encoder(x))[1]

    @staticmethod
    def joint(x: Tensor, z: Tensor) -> Tensor:
        """The critic's input [flatten(x), z], (B, D + latent_dim)."""
        return torch.cat([x.flatten(1), z], dim=1)

    def pairs(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(encoder pairs (x, z ~ q(z|x)), decoder pairs (G(z), z ~ p(z))) as joint vectors."""
        z = self.prior(len(x))
        return self.joint(x, self.infer(x)), self.joint(self.decoder(z), z)

    # ---------------------------------------------------------------- protocol
    def train_step(self, batch: Batch, ctx: StepContext) -> Iterator[Update]:
        x = batch["x"]
        critic = self.critic
        for _ in range(self.cfg.critic.n_critic):
            critic.clip_()
            with torch.no_grad():  # both pairs are constants for the critic
                enc, dec = self.pairs(x)
            loss, logs = critic.critic_loss(enc, dec)
            yield Update(("critic",), loss, logs)
        critic.clip_()
        # Backpropagated into encoder and decoder only (the trainer's backward(inputs=...)).
        enc, dec = self.pairs(x)
        loss = self._generator_loss(critic.objective, critic.score(enc), critic.score(dec))
        yield Update(("encoder", "decoder"), loss, {"gen_loss": loss.detach()})

    @torch.no_grad()
    def sample(self, n: int) -> Tensor:
        return self.decoder(self.prior(n))

    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        """G(E(x)) with the posterior mean: reconstructions, which ALI does not train for directly."""
        return self.decoder(self.encode(x))


__all__ = ["ALI", "ENCODERS"]
