"""VQ-VAE, the first stage: a conv autoencoder with a discrete code grid (arXiv:1711.00937).

van den Oord, Vinyals & Kavukcuoglu, NeurIPS 2017; https://kexue.fm/archives/6760. Loss (eq. 3,
per-element means): reconstruction + codebook term + beta * commitment, or, with the EMA codebook
(appendix A.1), reconstruction + beta * commitment while the codes follow running means.

The decoder is Gaussian with a learned per-pixel std (or Bernoulli, for binarized pixels). The
networks are trained on the plain MSE as in the paper; the std is fitted on the detached residual
only, so it changes no other gradient but makes log p(x|z_q) a proper density for the bound below.

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

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.core.checks import check_int, check_range, choice
from genlab.core.gaussian import normal_log_prob
from genlab.core.protocol import Batch, DataSpec, Model, StepContext, Update
from genlab.models.registry import MODELS
from genlab.models.vqvae.ema import EMACodebook
from genlab.models.vqvae.nets import VQDecoder, VQEncoder, check_grid
from genlab.models.vqvae.quantizer import VectorQuantizer


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
        codebook: str = "ema"  # ema (appendix A.1) | loss (codebook term of eq. 3)
        beta: float = 0.25  # commitment weight
        decay: float = 0.99  # EMA decay of the codebook and of the usage counts
        epsilon: float = 1e-5  # Laplace smoothing of the EMA counts
        restart_threshold: float = 1.0  # restart codes used by fewer vectors per step; 0: never
        decoder: str = "gaussian"  # gaussian (learned per-pixel std) | bernoulli
        min_log_std: float = -7.0  # floor of the Gaussian decoder's log-std

        def __post_init__(self) -> None:
            # Ranges checked when the config is built, so a bad value fails before any data is loaded.
            for name, low in (("codes", 1), ("dim", 1), ("hidden", 1), ("downsample", 0),
                              ("res_blocks", 0)):
                check_int(f"model.{name}", getattr(self, name), low)
            choice(self.codebook, ("ema", "loss"), "model.codebook")
            choice(self.decoder, ("gaussian", "bernoulli"), "model.decoder")
            check_range("model.beta", self.beta, 0.0)
            check_range("model.decay", self.decay, 0.0, 1.0, high_open=True)
            check_range("model.epsilon", self.epsilon, 0.0, low_open=True)
            check_range("model.restart_threshold", self.restart_threshold, 0.0)
            check_range("model.min_log_std", self.min_log_std)

    def __init__(self, cfg: Config, spec: DataSpec | tuple[int, ...]):
        shape = DataSpec.coerce(spec).shape
        super().__init__()
        self.cfg, self.shape = cfg, tuple(shape)
        self.grid = check_grid(self.shape, cfg.hidden, cfg.downsample)
        c = self.shape[0]
        self.encoder = VQEncoder(c, cfg.dim, cfg.hidden, cfg.downsample, cfg.res_blocks)
        self.decoder = VQDecoder(c, cfg.dim, cfg.hidden, cfg.downsample, cfg.res_blocks)
        if cfg.codebook == "ema":
            self.quantizer: VectorQuantizer = EMACodebook(cfg.codes, cfg.dim, cfg.beta, cfg.decay,
                                                          cfg.restart_threshold, cfg.epsilon)
        else:
            self.quantizer = VectorQuantizer(cfg.codes, cfg.dim, cfg.beta, cfg.decay, cfg.restart_threshold)
        self.raw_log_std = nn.Parameter(torch.zeros(shape)) if cfg.decoder == "gaussian" else None

    # ---------------------------------------------------------------- codes
    def codes(self, x: Tensor) -> Tensor:
        """The code grid (B, h, w) of x: nearest code of each encoder output (deterministic)."""
        self._check(x)
        return self.quantizer(self.encoder(x)).codes

    def decode_codes(self, codes: Tensor) -> Tensor:
        """Decoder output (Gaussian means or Bernoulli logits) of a code grid (B, h, w)."""
        return self.decoder(self.quantizer.lookup(codes))

    def decoder_log_std(self) -> Tensor:
        floor = self.cfg.min_log_std
        return floor + F.softplus(self.raw_log_std - floor)

    def log_px_given_codes(self, x: Tensor, out: Tensor) -> Tensor:
        """log p(x | z_q) per example (nats, summed over dimensions); `out` is the decoder output."""
        if self.raw_log_std is None:
            lp = -F.binary_cross_entropy_with_logits(out, x, reduction="none")
        else:
            lp = normal_log_prob(x, out, self.decoder_log_std())
        return lp.flatten(1).sum(1)

    def mean_image(self, out: Tensor) -> Tensor:
        """Decoder output -> image in model-input space (the Gaussian mean, or probabilities)."""
        return torch.sigmoid(out) if self.raw_log_std is None else out

    # ---------------------------------------------------------------- protocol
    def train_step(self, batch: Batch, ctx: StepContext) -> Iterator[Update]:
        x = batch["x"]
        self._check(x)
        q = self.quantizer(self.encoder(x), collect=True)
        out = self.decoder(q.z_q)
        logs = dict(q.logs)
        if self.raw_log_std is None:
            recon = F.binary_cross_entropy_with_logits(out, x)
            fit_std = recon.new_zeros(())
        else:
            recon = F.mse_loss(out, x)
            # the std sees the detached mean: it is fitted to the residual without rescaling the
            # MSE that trains the nets (paper: fixed-variance Gaussian decoder)
            fit_std = -normal_log_prob(x, out.detach(), self.decoder_log_std()).mean()
            logs["decoder_nll"] = fit_std.detach()
        loss = recon + q.loss + fit_std
        logs.update(loss=loss.detach(), recon=recon.detach())
        yield Update(("model",), loss, logs)

    def on_step_end(self, ctx: StepContext) -> None:
        # EMA codebook and usage counts: once per optimizer step, averaged over processes
        self.quantizer.end_step(ctx.all_reduce_mean)

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
