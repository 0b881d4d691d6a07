"""Variational autoencoder / importance-weighted autoencoder for density estimation.

Kingma & Welling, arXiv:1312.6114; Burda, Grosse & Salakhutdinov (IWAE), arXiv:1509.00519; read as
importance sampling with the encoder as proposal in https://kexue.fm/archives/8791:

    log p(x) = log E_{z ~ q(z|x)} [ p(x|z) p(z) / q(z|x) ]
             >= E [ log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x) ]   (= ELBO for K = 1)

Training minimises the K-sample bound (K = `iwae_k`); evaluation uses the same estimator with many
samples, batched over (K, B) and chunked over K. `latent_type` picks the latent variables
(`genlab.models.vae.latents`): Gaussian, or groups of categorical variables trained through a
Gumbel-softmax / straight-through relaxation, whose reported ELBO and importance-sampled
likelihood are those of the discrete model (exact one-hot draws, closed-form KL).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.core.checks import check_int, check_range
from genlab.core.errors import ConfigError
from genlab.core.protocol import Batch, DataSpec, Model, StepContext, Update
from genlab.core.registry import Registry
from genlab.distributions.gaussian import normal_log_prob
from genlab.distributions.importance_sampling import importance_sampled_log_likelihood
from genlab.models.registry import MODELS
from genlab.models.vae.latents import CategoricalLatent, GaussianLatent, LatentType, Noise, Relaxation
from genlab.nets.autoencoder import NetKind, encoder_decoder

Latent = GaussianLatent | CategoricalLatent
LATENT_TYPES: Registry = Registry("model.latent_type")  # LatentType -> builder of the latent from the config
LATENT_TYPES.register("gaussian")(lambda cfg: GaussianLatent(cfg.latent_dim))
LATENT_TYPES.register("categorical")(lambda cfg: CategoricalLatent(
    cfg.latent_dim, cfg.categories, cfg.relaxation, cfg.temperature, cfg.noise))


@MODELS.register("vae")
class VAE(Model):
    """Encoder q(z|x) (Gaussian or categorical latents), its prior, Gaussian or Bernoulli decoder p(x|z)."""

    @dataclass
    class Config:
        latent_dim: int = 16  # Gaussian dimensions, or the number of categorical variables
        latent_type: LatentType = "gaussian"
        categories: int = 10  # categorical: K, the values of each variable
        relaxation: Relaxation = "gumbel_softmax"  # categorical training sample
        temperature: float = 1.0  # categorical: the relaxation's temperature tau
        noise: Noise = "gumbel"  # categorical: q(z|x) = law of argmax(logits + noise)
        net: NetKind = "mlp"  # encoder/decoder pair (`genlab.nets.autoencoder`)
        hidden: int = 256  # MLP width, or the conv nets' base channel count
        depth: int = 2  # MLP hidden layers
        decoder: Literal["gaussian", "bernoulli"] = "gaussian"  # gaussian: learned per-dimension std
        min_log_std: float = -7.0  # floor of the Gaussian decoder's log-std
        iwae_k: int = 1  # importance samples in the training bound (1: the usual ELBO)
        # importance samples per example evaluated at once; null: about 10k rows (K x B) per call
        eval_chunk: int | None = None

        def __post_init__(self) -> None:
            # Ranges checked when the config is built, so a bad value fails before any data is loaded.
            for name, low in (("latent_dim", 1), ("hidden", 1), ("depth", 0), ("iwae_k", 1)):
                check_int(f"model.{name}", getattr(self, name), low)
            if self.eval_chunk is not None:
                check_int("model.eval_chunk", self.eval_chunk, 1)
            check_range("model.min_log_std", self.min_log_std)
            check_int("model.categories", self.categories, 2)
            check_range("model.temperature", self.temperature, 0.0, low_open=True)
            if self.latent_type == "categorical" and self.iwae_k > 1:
                # The K-sample bound needs q's density at the decoded sample; a relaxed sample has
                # the Concrete density, not the categorical pmf, so only the ELBO is trained here.
                raise ConfigError("model.iwae_k must be 1 with model.latent_type=categorical (the relaxed "
                                  "training sample has no categorical density for the K-sample bound)")

    uses_importance_sampling = True

    def __init__(self, cfg: Config, spec: DataSpec | tuple[int, ...]):
        spec = DataSpec.coerce(spec)
        if cfg.net == "conv":
            spec.require("model.net=conv", square=True)
        super().__init__()
        self.cfg, self.shape = cfg, tuple(spec.shape)
        self.latent: Latent = LATENT_TYPES.get(cfg.latent_type)(cfg)
        self.encoder, self.decoder = encoder_decoder(cfg.net, self.shape, self.latent.n_params,
                                                     self.latent.n_code, cfg.hidden, cfg.depth)
        self.raw_log_std = nn.Parameter(torch.zeros(self.shape)) if cfg.decoder == "gaussian" else None

    # ---------------------------------------------------------------- distributions
    def encode(self, x: Tensor) -> tuple[Tensor, Tensor] | Tensor:
        """Parameters of q(z|x): (mean, log-std), each (B, latent_dim), for Gaussian latents;
        logits (B, latent_dim, categories) for categorical ones."""
        self._check(x)
        return self.latent.params(self.encoder(x))

    @torch.no_grad()
    def representation(self, x: Tensor) -> Tensor:
        """The posterior mean of the code, E_q(z|x)[z], (B, code size): the Gaussian mean, or each
        categorical group's probabilities (the mean of its one-hot code); what a probe reads."""
        params = self.encode(x)
        if isinstance(params, tuple):
            return params[0]
        return self.latent.log_pmf(params).exp().flatten(1)

    def decoder_log_std(self) -> Tensor:
        floor = self.cfg.min_log_std
        return floor + F.softplus(self.raw_log_std - floor)

    def decode(self, z: Tensor) -> Tensor:
        """Decoder mean (Gaussian) or logits (Bernoulli), shaped like the data."""
        return self.decoder(z)

    def log_px_given_z(self, x: Tensor, out: Tensor) -> Tensor:
        """log p(x|z) summed over dimensions; `out` is `decode(z)`, x broadcast against it."""
        if self.raw_log_std is None:
            lp = -F.binary_cross_entropy_with_logits(out, x.expand_as(out), reduction="none")
        else:
            lp = normal_log_prob(x, out, self.decoder_log_std())
        return lp.flatten(1).sum(1)

    def log_weights(self, x: Tensor, k: int) -> Tensor:
        """(k, B) log importance weights log p(x, z_k) - log q(z_k | x), z_k ~ q(z|x) (reparameterised
        Gaussian, or exact one-hot categorical draws)."""
        z, log_ratio = self.latent.log_ratio_samples(self.encode(x), k)
        b = x.shape[0]
        xk = x.unsqueeze(0).expand(k, *x.shape).reshape(k * b, *self.shape)
        log_px = self.log_px_given_z(xk, self.decode(z.reshape(k * b, -1))).view(k, b)
        return log_px + log_ratio

    def elbo(self, x: Tensor, relaxed: bool = True) -> tuple[Tensor, Tensor, Tensor]:
        """Per-example (ELBO, reconstruction term, KL term), the KL to the prior in closed form.

        `relaxed=False` decodes an exact draw from q (for categorical latents a one-hot, so the value
        is the discrete model's ELBO); the default decodes the differentiable training sample.
        """
        params = self.encode(x)
        z = self.latent.rsample(params) if relaxed else self.latent.exact_sample(params)
        recon = self.log_px_given_z(x, self.decode(z))
        kl = self.latent.kl(params)
        return recon - kl, recon, kl

    # ---------------------------------------------------------------- protocol
    def train_step(self, batch: Batch, ctx: StepContext) -> Iterator[Update]:
        x = batch["x"]
        if self.cfg.iwae_k == 1:
            elbo, recon, kl = self.elbo(x)
            loss = -elbo.mean()
            yield Update(("model",), loss, {"loss": loss, "recon": -recon.mean(), "kl": kl.mean()})
        else:
            k = self.cfg.iwae_k
            bound = torch.logsumexp(self.log_weights(x, k), 0) - math.log(k)
            loss = -bound.mean()
            yield Update(("model",), loss, {"loss": loss})

    @torch.no_grad()
    def sample(self, n: int) -> Tensor:
        """Decoder means (Gaussian) or probabilities (Bernoulli) at z from the prior: the usual way
        to show VAE samples, since per-pixel decoder noise only adds speckle."""
        out = self.decode(self.latent.prior(n, next(self.parameters())))
        return torch.sigmoid(out) if self.raw_log_std is None else out

    def likelihood_estimates(self, x: Tensor, importance_samples: int = 1000) -> dict[str, Tensor]:
        k = importance_samples
        return {
            "elbo": self.elbo(x, relaxed=False)[0],
            "log_likelihood_is": importance_sampled_log_likelihood(
                self.log_weights, x, k, self.cfg.eval_chunk),
        }

    def _check(self, x: Tensor) -> None:
        if tuple(x.shape[1:]) != self.shape:
            raise ValueError(
                f"VAE built for examples of shape {self.shape}, got a batch of shape {tuple(x.shape)}"
            )

