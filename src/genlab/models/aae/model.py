"""Adversarial autoencoder (Makhzani et al. 2015, "Adversarial Autoencoders", arXiv:1511.05644).

A deterministic encoder E(x) and decoder G(z) are trained to reconstruct, while a critic on codes
tells prior draws z ~ p(z) (its real side) from codes E(x) and the encoder, acting as a generator,
learns to fool it, so the aggregate posterior q(z) = E_x delta(z - E(x)) is matched to the prior
(paper sec. 2). Samples are G(z), z ~ p(z). In the variational-inference view (Su,
arXiv:1807.05936; https://kexue.fm/archives/5716) this is the GAN with the roles of x and
z swapped: critic loss -E_z log D(z) - E_x log(1 - D(E(x))), encoder loss
E_x[-log D(E(x)) + lambda ||x - G(E(x))||^2]. Any GAN objective and Lipschitz constraint of
`genlab.adversarial` can drive the critic (`model.critic.*`, see `genlab.adversarial.critic`).

Parameter groups "encoder", "decoder" and "critic" (`genlab.adversarial.autoencoder`). `schedule`:

* `phased` (the paper's two-phase SGD schedule): a reconstruction update of encoder and decoder,
  then `critic.n_critic` critic updates on the *updated* encoder's codes, then an encoder update
  with the generator loss (weighted by `adversarial_weight`);
* `joint` (the VI view's single encoder objective): the critic updates, then one encoder+decoder
  update of reconstruction + adversarial_weight x generator loss.

The encoder's optimizer (`optim.encoder`) serves both of its phases, as one optimizer per group.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from genlab.adversarial.autoencoder import AdversarialAutoencoder, AdversarialAutoencoderConfig
from genlab.core.checks import check_range
from genlab.core.protocol import Batch, DataSpec, StepContext, Update
from genlab.models.aae.reconstruction import RECONSTRUCTIONS
from genlab.models.registry import MODELS
from genlab.nets.autoencoder import encoder_decoder

Reconstruction = Literal["squared_error", "bernoulli"]  # the keys of RECONSTRUCTIONS
Schedule = Literal["phased", "joint"]
SCHEDULES: tuple[Schedule, ...] = ("phased", "joint")


@MODELS.register("aae")
class AAE(AdversarialAutoencoder):
    """Encoder E(x), decoder G(z) and a critic D(z) on codes; groups encoder, decoder, critic."""

    @dataclass
    class Config(AdversarialAutoencoderConfig):
        reconstruction: Reconstruction = "squared_error"  # bernoulli: the decoder gives logits
        schedule: Schedule = "phased"
        adversarial_weight: float = 1.0  # weight of the encoder's generator loss
        # inherited: latent_dim (8), prior, net, hidden, depth, decoder_norm, critic (on codes)

        def __post_init__(self) -> None:
            super().__post_init__()
            check_range("model.adversarial_weight", self.adversarial_weight, 0.0)

    cfg: Config

    def __init__(self, cfg: Config, spec: DataSpec | tuple[int, ...]):
        super().__init__(cfg, spec)
        self.encoder, self.decoder = encoder_decoder(cfg.net, self.shape, cfg.latent_dim, cfg.latent_dim,
                                                       cfg.hidden, cfg.depth, output="none",
                                                       norm=cfg.decoder_norm)
        self.critic = self.mlp_critic(cfg.latent_dim)
        self.reconstruction = RECONSTRUCTIONS[cfg.reconstruction]()
        self._schedule = {"phased": self._phased, "joint": self._joint}[cfg.schedule]

    # ---------------------------------------------------------------- pieces
    def encode(self, x: Tensor) -> Tensor:
        """The code E(x), (B, latent_dim)."""
        self.check_input(x)
        return self.encoder(x)

    def reconstruction_loss(self, x: Tensor, z: Tensor) -> Tensor:
        """Batch mean of the per-example reconstruction term of x from code z."""
        return self.reconstruction.loss(x, self.decoder(z)).mean()

    def _critic_updates(self, x: Tensor) -> Iterator[Update]:
        # Codes are constants for the critic: the encoder does not change during these updates,
        # so one no-grad pass serves all of them; each update gets fresh prior draws.
        with torch.no_grad():
            codes = self.encode(x)
        for _ in range(self.cfg.critic.n_critic):
            self.critic.clip_()
            loss, logs = self.critic.critic_loss(self.prior(len(x)), codes)
            yield Update(("critic",), loss, logs)
        self.critic.clip_()

    # ---------------------------------------------------------------- protocol
    def _phased(self, x: Tensor) -> Iterator[Update]:
        recon = self.reconstruction_loss(x, self.encode(x))
        yield Update(("encoder", "decoder"), recon, {"recon": recon.detach()})
        yield from self._critic_updates(x)  # resumed after the trainer's step: the updated encoder
        # The trainer backpropagates this update into the encoder only, so the critic's weights
        # get no gradient from it although the loss passes through the critic.
        gen = self.critic.generator_loss(self.encode(x))
        yield Update(("encoder",), self.cfg.adversarial_weight * gen, {"gen_loss": gen.detach()})

    def _joint(self, x: Tensor) -> Iterator[Update]:
        yield from self._critic_updates(x)
        z = self.encode(x)
        recon, gen = self.reconstruction_loss(x, z), self.critic.generator_loss(z)
        yield Update(("encoder", "decoder"), recon + self.cfg.adversarial_weight * gen,
                     {"recon": recon.detach(), "gen_loss": gen.detach()})

    def train_step(self, batch: Batch, ctx: StepContext) -> Iterator[Update]:
        return self._schedule(batch["x"])

    @torch.no_grad()
    def sample(self, n: int) -> Tensor:
        """Decoded prior draws, in data space (the reconstruction's mean, e.g. sigmoid of logits)."""
        return self.reconstruction.mean(self.decoder(self.prior(n)))


__all__ = ["AAE", "SCHEDULES"]
