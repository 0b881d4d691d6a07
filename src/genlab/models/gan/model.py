"""Generative adversarial networks: any objective x any Lipschitz constraint x two training modes.

Convention: the critic scores real data HIGH (see `genlab.adversarial.objectives`). The critic, its
objectives (the eight f-divergences among them), gradient/finite-difference/R1 penalties, weight
clipping, spectral normalization, gradient normalization (GN/GraN) and latent samplers are the
shared `genlab.adversarial` parts (`model.critic.*`); the single-loss formulation, the VI anchor
regularizer and the networks are the GAN's own, in `genlab.models.gan`.

Training modes (one trainer step = one batch of `data.batch_size` real examples):

* `alternating`: the batch is split into `critic.n_critic` equal chunks of m = batch_size / n_critic
  examples; each chunk drives one critic update against m fresh fakes (the generator's output is
  detached), as the WGAN-GP paper draws a new real batch per critic iteration (arXiv:1704.00028,
  Algorithm 1). Then `g_steps` generator updates on one fresh noise batch of size m (the same z
  for every g-step, so the VI anchor G_old(z) is defined). So `data.batch_size` = n_critic x m.
  Separate `optim.critic` / `optim.generator` learning rates give TTUR (Heusel et al. 2017,
  arXiv:1706.08500); `optim.generator.ema` keeps an EMA of the generator for sampling.
* `single_loss`: one Update naming both groups whose one backward pass gives each network its own
  gradient, as the stop-gradient loss of https://kexue.fm/archives/6387 does, by gradient reversal
  where the objective allows (`genlab.models.gan.single_loss`); whole batch, n_critic = g_steps = 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor, nn

from genlab.adversarial.critic import Critic, CriticConfig
from genlab.adversarial.latents import (
    HubnessLatentSampler,
    PriorName,
    SamplerName,
    sample_prior,
    truncated_normal,
)
from genlab.core.checks import check_int, check_range
from genlab.core.errors import ConfigError
from genlab.core.protocol import Batch, DataSpec, Model, StepContext, Update
from genlab.models.gan.nets import GANNet, build_nets
from genlab.models.gan.single_loss import (
    detached_call,
    formulation,
    reversal_scale,
    reverse_gradient,
    row_reversal_limit,
    row_reversal_scale,
)
from genlab.models.gan.vi import anchor_penalty
from genlab.models.registry import MODELS

TrainMode = Literal["alternating", "single_loss"]
Norm = Literal["none", "batch", "layer"]
Output = Literal["none", "tanh", "sigmoid"]


@MODELS.register("gan")
class GAN(Model):
    """Generator G(z) and critic D(x) with parameter groups "generator" and "critic"."""

    @dataclass
    class Config:
        # the critic: objective, Lipschitz constraints, n_critic, norm (genlab.adversarial.critic);
        # its width and depth default to the generator's `hidden` and `depth`
        critic: CriticConfig = field(default_factory=CriticConfig)
        # training
        mode: TrainMode = "alternating"
        g_steps: int = 1  # generator updates per round, on the same noise
        single_loss_weight: float = 1.0  # lambda of the single-loss formulation
        vi_weight: float = 0.0  # VI anchor regularizer weight (needs g_steps >= 2)
        # networks
        latent_dim: int = 64
        prior: PriorName = "normal"
        net: GANNet = "mlp"
        hidden: int = 512  # MLP width, or conv base channels
        depth: int = 3  # MLP hidden layers
        generator_norm: Norm = "none"
        output: Output = "none"  # generator output activation
        # sampling
        sampler: SamplerName = "prior"
        truncation: float = 2.0  # |z_i| bound of the truncated sampler
        hub_k: int = 5
        hub_threshold: float = 50.0
        hub_pool: int = 10000
        hub_quantile: float | None = None  # keep hub values above this pool quantile instead

        def __post_init__(self) -> None:
            # Checked when the config is built, so a bad value fails before any data is loaded.
            for name, low in (("g_steps", 1), ("latent_dim", 1), ("hidden", 1), ("depth", 0),
                              ("hub_k", 1), ("hub_pool", 1)):
                check_int(f"model.{name}", getattr(self, name), low)
            for name in ("vi_weight", "single_loss_weight"):
                check_range(f"model.{name}", getattr(self, name), 0.0)
            check_range("model.truncation", self.truncation, 0.0, low_open=True)
            check_range("model.hub_threshold", self.hub_threshold)
            if self.hub_quantile is not None:
                check_range("model.hub_quantile", self.hub_quantile, 0.0, 1.0)
            if self.mode == "single_loss" and (self.critic.n_critic != 1 or self.g_steps != 1
                                               or self.vi_weight):
                raise ConfigError("model.mode=single_loss is a simultaneous 1:1 update: set "
                                  "critic.n_critic: 1, g_steps: 1 and vi_weight: 0 (use mode: "
                                  "alternating for those)")
            if self.vi_weight > 0 and self.g_steps < 2:
                raise ConfigError(
                    "model.vi_weight > 0 needs g_steps >= 2: the anchor is the generator's output "
                    "before its updates, so the penalty and its gradient are zero at the first g-step"
                )
            if self.net == "resnet" and self.critic.norm != "none":
                raise ConfigError("model.net=resnet has a normalisation-free critic; set critic.norm: none")

        def needs_double_backward(self) -> bool:
            """Whether training differentiates through input gradients (penalties, R1, GN), which
            torch.compile cannot do (`train.compile`)."""
            return self.critic.needs_double_backward()

    cfg: Config

    def __init__(self, cfg: Config, spec: DataSpec | tuple[int, ...]):
        spec = DataSpec.coerce(spec)
        if cfg.net != "mlp":
            spec.require(f"model.net={cfg.net}", square=True)  # (C, H, H) examples
        super().__init__()
        self.cfg, self.shape = cfg, tuple(spec.shape)
        c = cfg.critic
        self.generator, net = build_nets(cfg.net, cfg.latent_dim, self.shape, cfg.hidden, cfg.depth,
                                         cfg.generator_norm, c.norm, cfg.output, c.hidden, c.depth)
        self.critic = Critic(c, net)
        self.objective = self.critic.objective
        self._formulation = formulation(self.objective, c.norm == "batch")
        # Follows the model's device and dtype (.to(), .double()) and is not saved: where latents
        # are drawn, read without walking generator.parameters() on every draw.
        self.register_buffer("_probe", torch.empty(0), persistent=False)

    # ---------------------------------------------------------------- pieces
    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"generator": list(self.generator.parameters()),
                "critic": list(self.critic.parameters())}

    def latents(self, n: int) -> Tensor:
        """n draws from the training prior, on the model's device and dtype."""
        p = self._probe
        return sample_prior(n, self.cfg.latent_dim, self.cfg.prior, p.device, p.dtype)

    def _clip(self) -> None:
        self.critic.clip_()

    def score(self, x: Tensor) -> Tensor:
        """Critic scores (B,) -- gradient-normalised when critic.grad_norm is set."""
        return self.critic.score(x)

    def critic_objective(self, real: Tensor, fake: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Critic loss plus penalties; `fake` must already be detached from the generator."""
        return self.critic.critic_loss(real, fake)

    def generator_objective(self, fake: Tensor, anchor: Tensor | None = None
                            ) -> tuple[Tensor, dict[str, Tensor]]:
        """Generator loss on attached fakes G(z), plus the VI anchor term if `anchor` is given."""
        loss = self.critic.generator_loss(fake)
        if anchor is None or not self.cfg.vi_weight > 0:
            return loss, {"gen_loss": loss.detach()}
        vi = anchor_penalty(fake, anchor)
        return loss + self.cfg.vi_weight * vi, {"gen_loss": loss.detach(), "vi": vi.detach()}

    def single_loss_objective(self, real: Tensor, z: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """One loss whose gradient is grad(critic loss + penalties) for the critic and lambda *
        grad(generator loss) for the generator, by the fastest exact formulation for the objective
        (`genlab.models.gan.single_loss`)."""
        critic, objective = self.critic, self.objective
        fake = self.generator(z)
        fake_sg = fake.detach()  # the critic's own terms and the penalties must not reach G
        weight = self.cfg.single_loss_weight
        # Real and fake are scored in separate calls, as in the alternating critic step (per-call
        # batch statistics); two calls of B rows are also cheaper than one of 2B on CPU.
        real_s = critic.score(real)
        if self._formulation == "split":
            fake_s = critic.score(fake_sg)
            loss, logs = critic.add_penalties(objective.critic_loss(real_s, fake_s), real, fake_sg,
                                              real_s, fake_s)
            # G(z) through the critic with detached weights: the generator's term reaches G only.
            gen_loss = objective.generator_loss(detached_call(critic, fake))
            logs["gen_loss"] = gen_loss.detach()
            return loss + weight * gen_loss, logs
        scale: float | Tensor = (weight * reversal_scale(objective) if self._formulation == "reversal"
                                 else torch.empty(fake.shape[0], device=fake.device, dtype=fake.dtype))
        # The critic sees G(z) itself; the gradient flowing back into G is multiplied by `scale`,
        # which turns the critic's fake-term gradient into lambda times the generator's.
        fake_s = critic.score(reverse_gradient(fake, scale))
        loss, logs = critic.add_penalties(objective.critic_loss(real_s, fake_s), real, fake_sg,
                                          real_s, fake_s)
        s = fake_s.detach()
        logs["gen_loss"] = objective.generator_loss(s)
        if self._formulation == "row_reversal":
            if bool(s.min() > row_reversal_limit(s.dtype)):  # host sync, once per step
                scale.copy_(weight * row_reversal_scale(objective, s))
            else:  # g'(s) underflowed for some row: route G's gradient the split way instead
                scale.zero_()
                loss = loss + weight * objective.generator_loss(detached_call(critic, fake))
        return loss, logs

    # ---------------------------------------------------------------- protocol
    def train_step(self, batch: Batch, ctx: StepContext) -> Iterator[Update]:
        x = batch["x"]
        critic = self.critic
        if self.cfg.mode == "single_loss":
            critic.clip_()
            loss, logs = self.single_loss_objective(x, self.latents(x.shape[0]))
            yield Update(("critic", "generator"), loss, logs)
            return
        k = critic.cfg.n_critic
        if x.shape[0] < k:
            raise ConfigError(f"a batch of {x.shape[0]} examples cannot be split among "
                              f"critic.n_critic={k} critic steps; raise data.batch_size")
        chunks = (x,) if k == 1 else x.chunk(k)
        for real in chunks:
            critic.clip_()
            with torch.no_grad():  # fakes are constants in the critic step
                fake = self.generator(self.latents(real.shape[0]))
            loss, logs = critic.critic_loss(real, fake)
            yield Update(("critic",), loss, logs)
        critic.clip_()
        z = self.latents(chunks[0].shape[0])
        anchor = None
        if self.cfg.vi_weight > 0:
            with torch.no_grad():  # pre-update output on the same z: a fixed target for all g-steps
                anchor = self.generator(z)
        # The trainer backpropagates this update into the generator only (backward(inputs=...)),
        # so the critic's weight gradients are never computed: no need to freeze it here.
        for _ in range(self.cfg.g_steps):
            loss, logs = self.generator_objective(self.generator(z), anchor)
            yield Update(("generator",), loss, logs)

    def latents_for_sampling(self, n: int) -> Tensor:
        """n latents from the configured sampler (prior, truncated normal or hubness prior)."""
        cfg, p = self.cfg, self._probe
        if cfg.sampler == "truncated":
            return truncated_normal(n, cfg.latent_dim, cfg.truncation, p.device, p.dtype)
        if cfg.sampler == "hubness":
            sampler = HubnessLatentSampler(cfg.latent_dim, cfg.hub_k, cfg.hub_threshold, cfg.hub_pool,
                                           quantile=cfg.hub_quantile, prior=cfg.prior)
            return sampler(n, p.device, p.dtype)
        return self.latents(n)

    @torch.no_grad()
    def sample(self, n: int) -> Tensor:
        return self.generator(self.latents_for_sampling(n))
