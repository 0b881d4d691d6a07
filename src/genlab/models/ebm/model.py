"""Energy-based model trained by contrastive divergence with short-run Langevin negatives (IGEBM).

Du & Mordatch 2019, "Implicit Generation and Generalization in Energy-Based Models" (arXiv:1903.08689;
official code openai/ebm_code_release); https://kexue.fm/archives/6612. q(x) = exp(-E(x)) / Z; each
step draws negatives by Langevin dynamics (`genlab.sampling.langevin`) started from a replay buffer
of past negatives (95 %) or uniform noise (5 %) (`genlab.models.ebm.buffer`), then lowers the data's
energy and raises the negatives' with the regularised CD loss (`genlab.models.ebm.loss`).

The replay buffer is per-process state: it travels in `extra_state` (one per rank in a checkpoint) and
draws its randomness from torch's global CPU generator, which the trainer checkpoints too, so a
resumed run is bit-identical to an uninterrupted one. Negatives of a step are pushed in
`on_step_end`, so every micro-batch of a step starts its chains from the same buffer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from genlab.core.checks import check_int, check_range, choice
from genlab.core.errors import ConfigError
from genlab.core.protocol import Batch, DataSpec, Model, StepContext, Update
from genlab.models.ebm.buffer import ReplayBuffer
from genlab.models.ebm.energy import ACTIVATIONS, NETS, build_energy
from genlab.models.ebm.loss import cd_loss
from genlab.models.registry import MODELS
from genlab.sampling import LangevinSampler

LANGEVIN = ("practical", "theoretical")
SAMPLE_FROM = ("buffer", "noise")
IMAGE_RANGE, VECTOR_RANGE = (0.0, 1.0), (-2.0, 2.0)


@MODELS.register("ebm")
class EBM(Model):
    """Energy net E(x) (low on data) with parameter group "model"; samples by Langevin dynamics."""

    @dataclass
    class Config:
        # energy net
        net: str = "mlp"  # mlp | conv
        hidden: int = 128  # MLP width, or the conv net's base channel count
        depth: int = 3  # MLP hidden layers
        act: str = "swish"  # swish | leaky_relu
        spectral_norm: bool = False
        alpha: float = 1.0  # weight of the energy-square regulariser (official code: 1)
        # Langevin negatives
        langevin: str = "practical"  # practical (official code) | theoretical (drift eps/2, noise sqrt(eps))
        n_steps: int = 60
        step_size: float = 10.0  # practical: lambda; theoretical: eps
        noise_std: float = 0.005  # practical only (theoretical: sqrt(step_size))
        grad_clip: float | None = 0.01  # elementwise clip of grad_x E per step (null: none)
        # noise starts and clamp range; null: [0, 1] for images, [-2, 2] for vectors
        data_range: tuple[float, float] | None = None
        clamp: bool = True  # keep chains inside data_range
        # replay buffer
        buffer_size: int = 10000
        reinit_prob: float = 0.05  # chains started from uniform noise instead of the buffer
        store_uint8: bool | None = None  # null: uint8 codes for images, floats for vectors
        # sampling after training
        sample_steps: int | None = None  # Langevin steps of sample(n); null: n_steps
        sample_from: str = "buffer"  # buffer (past negatives, noise while empty) | noise

        def __post_init__(self) -> None:
            # Ranges checked when the config is built, so a bad value fails before any data is loaded.
            choice(self.net, NETS, "model.net")
            choice(self.act, ACTIVATIONS, "model.act")
            choice(self.langevin, LANGEVIN, "model.langevin")
            choice(self.sample_from, SAMPLE_FROM, "model.sample_from")
            for name, low in (("hidden", 1), ("depth", 0), ("n_steps", 1), ("buffer_size", 1)):
                check_int(f"model.{name}", getattr(self, name), low)
            if self.sample_steps is not None:
                check_int("model.sample_steps", self.sample_steps, 0)
            check_range("model.alpha", self.alpha, 0.0)
            check_range("model.step_size", self.step_size, 0.0, low_open=True)
            check_range("model.noise_std", self.noise_std, 0.0)
            check_range("model.reinit_prob", self.reinit_prob, 0.0, 1.0)
            if self.grad_clip is not None:
                check_range("model.grad_clip", self.grad_clip, 0.0, low_open=True)
            if self.data_range is not None:
                low, high = self.data_range
                check_range("model.data_range[0]", low)
                check_range("model.data_range[1]", high, low, low_open=True)

    def __init__(self, cfg: Config, spec: DataSpec | tuple[int, ...]):
        spec = DataSpec.coerce(spec)
        super().__init__()
        if cfg.net == "conv" and len(spec.shape) != 3:
            raise ConfigError(f"model.net=conv needs image data, got example shape {spec.shape}")
        self.cfg, self.shape = cfg, tuple(spec.shape)
        self.energy = build_energy(cfg.net, self.shape, cfg.hidden, cfg.depth, cfg.act, cfg.spectral_norm)
        self.data_range = cfg.data_range or (IMAGE_RANGE if spec.is_image else VECTOR_RANGE)
        uint8 = spec.is_image if cfg.store_uint8 is None else cfg.store_uint8
        self.buffer = ReplayBuffer(cfg.buffer_size, self.shape, *self.data_range, cfg.reinit_prob, uint8)
        self._pending: list[Tensor] = []  # this step's negatives, pushed in on_step_end

    # ---------------------------------------------------------------- pieces
    def sampler(self, n_steps: int | None = None) -> LangevinSampler:
        """The configured Langevin sampler (`n_steps` overrides the training chain length)."""
        cfg = self.cfg
        steps = cfg.n_steps if n_steps is None else n_steps
        clamp = self.data_range if cfg.clamp else None
        if cfg.langevin == "theoretical":
            return LangevinSampler.theoretical(cfg.step_size, steps, cfg.grad_clip, clamp)
        return LangevinSampler.practical(cfg.step_size, cfg.noise_std, steps, cfg.grad_clip, clamp)

    @contextlib.contextmanager
    def _frozen_power_iteration(self) -> Iterator[None]:
        """Energy net in eval mode inside the block: spectral norm then reuses its current estimate
        instead of running one power iteration per Langevin step (no other layer depends on mode)."""
        was = self.energy.training
        self.energy.train(False)
        try:
            yield
        finally:
            self.energy.train(was)

    def langevin(self, x0: Tensor, n_steps: int | None = None) -> Tensor:
        """Langevin chains from x0 on this model's energy; detached samples."""
        with self._frozen_power_iteration():
            return self.sampler(n_steps)(self.energy, x0)

    def negatives(self, n: int) -> Tensor:
        """n detached negatives: chains from the buffer (once it holds n examples) or noise."""
        p = next(self.parameters())
        x0 = self.buffer.init_chains(n, min_size=n).to(p.device, p.dtype)
        return self.langevin(x0)

    # ---------------------------------------------------------------- protocol
    def train_step(self, batch: Batch, ctx: StepContext) -> Iterator[Update]:
        x = batch["x"]
        neg = self.negatives(x.shape[0])  # detached: a constant of the loss (CD surrogate)
        self._pending.append(neg)
        # One forward for both halves: with spectral norm, both see the same normalised weights.
        e_pos, e_neg = self.energy(torch.cat([x, neg.to(x.dtype)])).split([x.shape[0], neg.shape[0]])
        loss, logs = cd_loss(e_pos, e_neg, self.cfg.alpha)
        yield Update(("model",), loss, {"loss": loss.detach(), **logs})

    def on_step_end(self, ctx: StepContext) -> None:
        for neg in self._pending:
            self.buffer.push(neg)
        self._pending.clear()

    def extra_state(self) -> dict[str, Any]:
        return {"buffer": self.buffer.state_dict()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if set(state) != {"buffer"}:
            raise ValueError(f"EBM extra state must hold exactly 'buffer', got keys {sorted(state)}")
        self.buffer.load_state_dict(state["buffer"])
        self._pending.clear()

    def sample(self, n: int) -> Tensor:
        """Langevin chains of `sample_steps` steps from the replay buffer (or noise); runs with
        gradients w.r.t. the chains enabled even when called under `torch.no_grad()`."""
        p = next(self.parameters())
        if self.cfg.sample_from == "buffer":
            x0 = self.buffer.init_chains(n)
        else:
            x0 = self.buffer.noise(n)
        return self.langevin(x0.to(p.device, p.dtype), self.cfg.sample_steps)


__all__ = ["EBM"]
