"""VQ-VAE, the first stage: a conv autoencoder with a discrete code grid (arXiv:1711.00937).

van den Oord, Vinyals & Kavukcuoglu, NeurIPS 2017; https://kexue.fm/archives/6760. Loss (eq. 3,
per-element means): reconstruction + codebook term + beta * commitment, or, with the EMA codebook
(appendix A.1), reconstruction + beta * commitment while the codes follow running means.

The decoder is Gaussian (or Bernoulli, for binarized pixels). The networks are trained on the plain
MSE, as in the paper (a fixed-variance Gaussian); the per-pixel variance that makes log p(x|z_q) a
proper density for the bound below is its maximum-likelihood value on the training data, tracked as a
debiased running mean of the squared residual (updated once per optimizer step, like the codebook),
so it changes no gradient.

Capabilities: `Encoder` (flattened z_q) and `DensityModel` with the paper's uniform prior over codes
(sec. 3.1: the KL term is the constant log K per position):

    log p(x) >= log p(x | z_q(x)) - (h w) log K       ("elbo_uniform_prior", nats, model inputs)

Not a `Sampler`: samples need the learned prior of the second stage (`vqvae-prior`), whose trainer
hooks and evaluation then draw images.
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
from genlab.models.registry import MODELS
from genlab.models.vqvae.ema import EMACodebook
from genlab.models.vqvae.nets import VQDecoder, VQEncoder, check_grid
from genlab.models.vqvae.quantizer import Reduce, VectorQuantizer


class RunningMeanSquare(nn.Module):
    """Debiased EMA of the per-pixel mean squared residual, one update per optimizer step (sums
    over micro-batches, averaged over processes): the Gaussian decoder's maximum-likelihood variance."""

    def __init__(self, shape: tuple[int, ...], decay: float):
        super().__init__()
        self.decay = decay
        self.register_buffer("ema", torch.zeros(shape))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))
        self._pending: list[Tensor] = []  # [sum of squares, count] of this step

    def collect(self, residual: Tensor) -> None:
        sq, n = residual.pow(2).sum(0), residual.new_tensor(float(len(residual)))
        self._pending = [sq, n] if not self._pending else [self._pending[0] + sq, self._pending[1] + n]

    @torch.no_grad()
    def end_step(self, all_reduce_mean: Reduce) -> None:
        if not self._pending:
            return
        sq, n = (all_reduce_mean(t.clone()) for t in self._pending)
        self.steps += 1
        self.ema.mul_(self.decay).add_(sq / n, alpha=1 - self.decay)
        self._pending = []

    def value(self) -> Tensor:
        """The running mean square (ones before the first step)."""
        t = int(self.steps)
        return self.ema / (1 - self.decay**t) if t else torch.ones_like(self.ema)


# model.codebook -> the quantiser: running-mean codes (appendix A.1) or codes trained by the loss
CODEBOOKS: Registry = Registry("model.codebook")
CODEBOOKS.register("ema")(lambda cfg: EMACodebook(cfg.codes, cfg.dim, cfg.beta, cfg.decay,
                                                  cfg.restart_threshold, cfg.epsilon))
CODEBOOKS.register("loss")(lambda cfg: VectorQuantizer(cfg.codes, cfg.dim, cfg.beta, cfg.decay,
                                                       cfg.restart_threshold))


@MODELS.register("vqvae")
class VQVAE(Model):
    """Encoder -> nearest-code quantiser (straight-through) -> decoder."""

    @dataclass
    class Config:
        codes: int = 64  # K
        dim: int = 16  # D, dimension of each code
        hidden: int = 64  # channels next to the code grid (halved per upsampling towards the image)
        downsample: int = 2  # stride-2 halvings: the code grid is (H / 2^n, W / 2^n)
        res_blocks: int = 2
        codebook: Literal["ema", "loss"] = "ema"  # ema (appendix A.1) | loss (codebook term of eq. 3)
        beta: float = 0.25  # commitment weight
        decay: float = 0.99  # EMA decay of the codebook and of the usage counts
        epsilon: float = 1e-5  # Laplace smoothing of the EMA counts
        restart_threshold: float = 1.0  # restart codes used by fewer vectors per step; 0: never
        # gaussian (per-pixel maximum-likelihood std) | bernoulli
        decoder: Literal["gaussian", "bernoulli"] = "gaussian"
        min_log_std: float = -7.0  # floor of the Gaussian decoder's log-std

        def __post_init__(self) -> None:
            # Ranges checked when the config is built, so a bad value fails before any data is loaded.
            for name, low in (("codes", 1), ("dim", 1), ("hidden", 1), ("downsample", 0),
                              ("res_blocks", 0)):
                check_int(f"model.{name}", getattr(self, name), low)
            check_range("model.beta", self.beta, 0.0)
            check_range("model.decay", self.decay, 0.0, 1.0, high_open=True)
            check_range("model.epsilon", self.epsilon, 0.0, low_open=True)
            check_range("model.restart_threshold", self.restart_threshold, 0.0)
            check_range("model.min_log_std", self.min_log_std)
            if self.hidden % 2**self.downsample:
                raise ConfigError(f"model.hidden={self.hidden} must be divisible by 2^downsample = "
                                  f"{2**self.downsample} (channels halve towards the image)")

    def __init__(self, cfg: Config, spec: DataSpec | tuple[int, ...]):
        spec = DataSpec.coerce(spec)
        if len(spec.shape) != 3:  # any (C, H, W) array will do: pixel levels are not needed
            spec.require("model vqvae", image=True)
        super().__init__()
        self.cfg, self.shape = cfg, tuple(spec.shape)
        self.grid = check_grid(self.shape, cfg.downsample)
        c = self.shape[0]
        self.encoder = VQEncoder(c, cfg.dim, cfg.hidden, cfg.downsample, cfg.res_blocks)
        self.decoder = VQDecoder(c, cfg.dim, cfg.hidden, cfg.downsample, cfg.res_blocks)
        self.quantizer: VectorQuantizer = CODEBOOKS.get(cfg.codebook)(cfg)
        self.gaussian = cfg.decoder == "gaussian"
        self.residual = RunningMeanSquare(self.shape, cfg.decay) if self.gaussian else None

    # ---------------------------------------------------------------- codes
    def codes(self, x: Tensor) -> Tensor:
        """The code grid (B, h, w) of x: nearest code of each encoder output (deterministic)."""
        self._check(x)
        return self.quantizer(self.encoder(x)).codes

    def decode_codes(self, codes: Tensor) -> Tensor:
        """Decoder output (Gaussian means or Bernoulli logits) of a code grid (B, h, w)."""
        return self.decoder(self.quantizer.lookup(codes))

    def decoder_log_std(self) -> Tensor:
        """Per-pixel log-std of the Gaussian decoder: half the log of the running mean squared
        residual, floored at `min_log_std`."""
        return (0.5 * self.residual.value().log()).clamp_min(self.cfg.min_log_std)

    def log_px_given_codes(self, x: Tensor, out: Tensor) -> Tensor:
        """log p(x | z_q) per example (nats, summed over dimensions); `out` is the decoder output."""
        if not self.gaussian:
            lp = -F.binary_cross_entropy_with_logits(out, x, reduction="none")
        else:
            lp = normal_log_prob(x, out, self.decoder_log_std())
        return lp.flatten(1).sum(1)

    def mean_image(self, out: Tensor) -> Tensor:
        """Decoder output -> image in model-input space (the Gaussian mean, or probabilities)."""
        return out if self.gaussian else torch.sigmoid(out)

    # ---------------------------------------------------------------- protocol
    def train_step(self, batch: Batch, ctx: StepContext) -> Iterator[Update]:
        x = batch["x"]
        self._check(x)
        q = self.quantizer(self.encoder(x), collect=True)
        out = self.decoder(q.z_q)
        logs = dict(q.logs)
        if self.gaussian:
            recon = F.mse_loss(out, x)
            self.residual.collect((x - out).detach())
        else:
            recon = F.binary_cross_entropy_with_logits(out, x)
        loss = recon + q.loss
        logs.update(loss=loss.detach(), recon=recon.detach())
        yield Update(("model",), loss, logs)

    def on_step_end(self, ctx: StepContext) -> None:
        # EMA codebook and usage counts: once per optimizer step, averaged over processes
        self.quantizer.end_step(ctx.all_reduce_mean)
        if self.residual is not None:
            self.residual.end_step(ctx.all_reduce_mean)

    @torch.no_grad()
    def encode(self, x: Tensor) -> Tensor:
        """Flattened quantised map z_q (B, dim * h * w), e.g. for a linear probe."""
        self._check(x)
        return self.quantizer.lookup(self.codes(x)).flatten(1)

    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        """dec(z_q(x)) as an image in model-input space."""
        return self.mean_image(self.decode_codes(self.codes(x)))

    def likelihood_estimates(self, x: Tensor, importance_samples: int = 1000) -> dict[str, Tensor]:
        """The bound with the paper's uniform prior (module docstring); `importance_samples` is
        unused (the encoder is deterministic)."""
        codes = self.codes(x)
        log_prior = -math.prod(self.grid) * math.log(self.cfg.codes)
        return {"elbo_uniform_prior": self.log_px_given_codes(x, self.decode_codes(codes)) + log_prior}

    def _check(self, x: Tensor) -> None:
        if tuple(x.shape[1:]) != self.shape:
            raise ValueError(
                f"VQ-VAE built for examples of shape {self.shape}, got a batch of shape {tuple(x.shape)}"
            )
