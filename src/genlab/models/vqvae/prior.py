"""VQ-VAE, the second stage: a PixelCNN prior over the code grids of a trained, frozen VQ-VAE.

arXiv:1711.00937, sec. 3.3: after the autoencoder is trained, an autoregressive model is fitted to
the code grids k(x) of the training data; sampling draws a grid from it and decodes it.

The first stage comes from a finished `vqvae` run folder (`run`): the model names it in
`upstream_runs`, and the layer that builds models (`genlab.train.build`) loads it (EMA weights where
kept) and passes it in as `upstream["first_stage"]`, as pythae's `PixelCNNSampler(model)` receives
its VQ-VAE. It is frozen: kept in eval mode, none of its parameters trained. Its weights are saved in
this model's checkpoints too, but rebuilding this model loads `run` again.
Without `run`, `first_stage` builds an untrained VQ-VAE (tests only: its codes mean nothing).

Likelihood (nats, model inputs; `genlab.eval.metrics.bits_per_dim` adds the pixel correction):
with the deterministic encoder's grid k* = k(x), p(x) = sum_k p(k) p(x|k) >= p(k*) p(x|k*), so

    log p(x) >= log p_prior(k*) + log p(x | z_q(k*))      ("elbo")

which is the ELBO of the posterior q(k|x) = delta(k - k*) (its entropy is zero).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from genlab.core.checks import check_int
from genlab.core.errors import ConfigError
from genlab.core.protocol import Batch, DataSpec, Model, StepContext, Update
from genlab.models.registry import MODELS
from genlab.models.vqvae.model import VQVAE
from genlab.models.vqvae.pixelcnn import PixelCNN


@MODELS.register("vqvae-prior")
class VQVAEPrior(Model):
    """PixelCNN p(k) over the code grid of a frozen VQ-VAE; samples are decoded grids."""

    @dataclass
    class Config:
        run: str = ""  # the finished `vqvae` run folder (stored absolute)
        first_stage: VQVAE.Config | None = None  # without `run`: an untrained VQ-VAE (tests only)
        hidden: int = 64
        layers: int = 4  # masked residual blocks after the first (mask A) conv
        kernel: int = 5  # first conv's kernel size (odd)

        def __post_init__(self) -> None:
            if isinstance(self.first_stage, dict):  # plain options (tests); YAML gives the dataclass
                self.first_stage = VQVAE.Config(**self.first_stage)
            if bool(self.run) == (self.first_stage is not None):
                raise ConfigError("model: give exactly one of run (a vqvae run folder) and first_stage")
            if self.run:
                self.run = str(Path(self.run).expanduser().resolve())
            for name, low in (("hidden", 1), ("layers", 0), ("kernel", 1)):
                check_int(f"model.{name}", getattr(self, name), low)
            if self.kernel % 2 == 0:
                raise ConfigError(f"model.kernel must be odd, got {self.kernel}")

    @classmethod
    def upstream_runs(cls, config: Config) -> dict[str, str]:
        return {"first_stage": config.run} if config.run else {}

    def __init__(self, cfg: Config, spec: DataSpec | tuple[int, ...],
                 upstream: Mapping[str, Model] | None = None):
        spec = DataSpec.coerce(spec)
        super().__init__()
        self.cfg = cfg
        if cfg.run:
            first = (upstream or {}).get("first_stage")
            if first is None:
                raise ConfigError(f"model.run={cfg.run}: the first stage is passed in by the model builder "
                                  "(genlab.train.build.build), not loaded here")
            if not isinstance(first, VQVAE):
                raise ConfigError(f"model.run={cfg.run} holds a {type(first).__name__} run, not a vqvae run")
            self.first_stage = first
        else:
            self.first_stage = VQVAE(cfg.first_stage, spec)
        if self.first_stage.shape != tuple(spec.shape):
            raise ConfigError(f"the VQ-VAE of {cfg.run} models examples of shape {self.first_stage.shape}, "
                              f"this data set has {tuple(spec.shape)}")
        self.first_stage.requires_grad_(False)
        self.first_stage.eval()
        self.prior = PixelCNN(self.first_stage.cfg.codes, cfg.hidden, cfg.layers, cfg.kernel)

    def train(self, mode: bool = True) -> VQVAEPrior:
        super().train(mode)
        self.first_stage.eval()  # frozen: never in training mode
        return self

    @torch.no_grad()
    def codes(self, x: Tensor) -> Tensor:
        return self.first_stage.codes(x)

    # ---------------------------------------------------------------- protocol
    def train_step(self, batch: Batch, ctx: StepContext) -> Iterator[Update]:
        grid = self.codes(batch["x"])
        nll = -self.prior.log_prob(grid).mean() / grid[0].numel()  # nats per code
        yield Update(("model",), nll, {"loss": nll.detach()})

    @torch.no_grad()
    def sample(self, n: int) -> Tensor:
        """Decoded prior samples: decoder means (or probabilities), as VAEs show theirs."""
        device = next(self.prior.parameters()).device
        grid = self.prior.sample(n, self.first_stage.grid, device)
        return self.first_stage.mean_image(self.first_stage.decode_codes(grid))

    def likelihood_estimates(self, x: Tensor, importance_samples: int = 1000) -> dict[str, Tensor]:
        """The bound of the module docstring; `importance_samples` is unused."""
        grid = self.codes(x)
        out = self.first_stage.decode_codes(grid)
        return {"elbo": self.prior.log_prob(grid) + self.first_stage.log_px_given_codes(x, out)}

