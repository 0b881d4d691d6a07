"""Generative adversarial networks: any objective x any Lipschitz constraint x two training modes.

Convention: the critic scores real data HIGH (see `genlab.models.gan.objectives`). The pieces live in
`genlab.models.gan`: objectives and the eight f-divergences, gradient/finite-difference/R1 penalties,
weight clipping, spectral normalization, gradient normalization (GN/GraN), the single-loss
formulation, the VI anchor regularizer, latent samplers and networks.

Training modes (one trainer step = one batch of `data.batch_size` real examples):

* `alternating`: the batch is split into `n_critic` equal chunks of m = batch_size / n_critic
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
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from genlab.core.checks import check_int, check_range, choice
from genlab.core.errors import ConfigError
from genlab.core.protocol import Batch, DataSpec, Model, StepContext, Update
from genlab.models.gan.gradnorm import GRAD_NORM_MODES, GradNormCritic
from genlab.models.gan.latents import PRIORS, HubnessLatentSampler, sample_prior, truncated_normal
from genlab.models.gan.nets import build_nets
from genlab.models.gan.objectives import build_objective
from genlab.models.gan.penalties import MODES as PENALTY_MODES
from genlab.models.gan.penalties import clip_weights_, finite_difference_penalty, gradient_penalty, r1_penalty
from genlab.models.gan.single_loss import (
    detached_call,
    formulation,
    reversal_scale,
    reverse_gradient,
    row_reversal_limit,
    row_reversal_scale,
)
from genlab.models.gan.spectral import apply_spectral_norm
from genlab.models.gan.vi import anchor_penalty
from genlab.models.registry import MODELS
from genlab.nets.norm import NORMS

PENALTIES = ("none", "gp", "fd")
TRAIN_MODES = ("alternating", "single_loss")
SAMPLERS = ("prior", "truncated", "hubness")


def _choose(value: str, valid: tuple[str, ...], key: str) -> None:
    choice(value, valid, f"model.{key}")


@MODELS.register("gan")
class GAN(Model):
    """Generator G(z) and critic D(x) with parameter groups "generator" and "critic"."""

    @dataclass
    class Config:
        # objective
        objective: str = "nonsaturating"  # minimax|nonsaturating|hinge|least_squares|wasserstein|fgan
        divergence: str = "kl"  # fgan only: one of genlab.models.gan.fdivergence.DIVERGENCES
        fgan_generator: str = "alt"  # fgan only: alt (max E_q T) | minimax (min -E_q g(T))
        # Lipschitz constraints on the critic (composable)
        penalty: str = "none"  # none | gp (gradient penalty on interpolates) | fd (finite differences)
        penalty_mode: str = "two_sided"  # two_sided | one_sided
        penalty_weight: float = 10.0
        penalty_power: float = 2.0  # exponent of the deviation (1 with one_sided: Su's hinge)
        r1_weight: float = 0.0  # gamma of the R1 penalty on real data (0: off)
        clip: float | None = None  # weight clipping to [-clip, clip] (WGAN: 0.01)
        spectral_norm: bool = False
        grad_norm: str = "none"  # none | gn | gran
        grad_norm_eps: float = 1e-8
        grad_norm_k: float = 1.0  # GraN's Lipschitz multiplier
        # training
        mode: str = "alternating"  # alternating | single_loss
        n_critic: int = 1  # critic updates per generator round (the batch is split among them)
        g_steps: int = 1  # generator updates per round, on the same noise
        single_loss_weight: float = 1.0  # lambda of the single-loss formulation
        vi_weight: float = 0.0  # VI anchor regularizer weight (needs g_steps >= 2)
        # networks
        latent_dim: int = 64
        prior: str = "normal"  # normal | uniform
        net: str = "mlp"  # mlp | dcgan | resnet
        hidden: int = 512  # MLP width, or conv base channels
        depth: int = 3  # MLP hidden layers
        generator_norm: str = "none"  # none | batch | layer
        critic_norm: str = "none"  # none | layer | batch (batch refused with GP/FD/R1/GN)
        output: str = "none"  # generator output activation: none | tanh | sigmoid
        # sampling
        sampler: str = "prior"  # prior | truncated | hubness
        truncation: float = 2.0  # |z_i| bound of the truncated sampler
        hub_k: int = 5
        hub_threshold: float = 50.0
        hub_pool: int = 10000
        hub_quantile: float | None = None  # keep hub values above this pool quantile instead

        def __post_init__(self) -> None:
            # Ranges checked when the config is built, so a bad value fails before any data is loaded.
            for name, low in (("n_critic", 1), ("g_steps", 1), ("latent_dim", 1), ("hidden", 1),
                              ("depth", 0), ("hub_k", 1), ("hub_pool", 1)):
                check_int(f"model.{name}", getattr(self, name), low)
            for name in ("penalty_weight", "r1_weight", "vi_weight", "single_loss_weight"):
                check_range(f"model.{name}", getattr(self, name), 0.0)
            for name in ("penalty_power", "grad_norm_eps", "grad_norm_k", "truncation"):
                check_range(f"model.{name}", getattr(self, name), 0.0, low_open=True)
            check_range("model.hub_threshold", self.hub_threshold)
            if self.clip is not None:
                check_range("model.clip", self.clip, 0.0, low_open=True)
            if self.hub_quantile is not None:
                check_range("model.hub_quantile", self.hub_quantile, 0.0, 1.0)

        def needs_double_backward(self) -> bool:
            """Whether training differentiates through input gradients (penalties, R1, GN), which
            torch.compile cannot do (`train.compile`)."""
            return self.penalty == "gp" or self.r1_weight > 0 or self.grad_norm != "none"

    def __init__(self, cfg: Config, spec: DataSpec | tuple[int, ...]):
        shape = DataSpec.coerce(spec).shape
        super().__init__()
        self._validate(cfg)
        self.cfg, self.shape = cfg, tuple(shape)
        self.objective = build_objective(cfg.objective, cfg.divergence, cfg.fgan_generator)
        self.generator, critic = build_nets(cfg.net, cfg.latent_dim, self.shape, cfg.hidden,
                                            cfg.depth, cfg.generator_norm, cfg.critic_norm, cfg.output)
        if cfg.spectral_norm:
            apply_spectral_norm(critic)
        # With GN the wrapper *is* the critic everywhere (critic and generator steps, penalties).
        self.critic: nn.Module = (GradNormCritic(critic, cfg.grad_norm, cfg.grad_norm_eps,
                                                 cfg.grad_norm_k)
                                  if cfg.grad_norm != "none" else critic)
        self._clip()

    @staticmethod
    def _validate(cfg: Config) -> None:
        _choose(cfg.penalty, PENALTIES, "penalty")
        _choose(cfg.penalty_mode, PENALTY_MODES, "penalty_mode")
        _choose(cfg.grad_norm, ("none", *GRAD_NORM_MODES), "grad_norm")
        _choose(cfg.mode, TRAIN_MODES, "mode")
        _choose(cfg.prior, PRIORS, "prior")
        _choose(cfg.sampler, SAMPLERS, "sampler")
        _choose(cfg.critic_norm, NORMS, "critic_norm")
        _choose(cfg.generator_norm, NORMS, "generator_norm")
        if cfg.n_critic < 1 or cfg.g_steps < 1 or cfg.latent_dim < 1:
            raise ConfigError("model.n_critic, model.g_steps and model.latent_dim must be >= 1")
        if cfg.clip is not None and not cfg.clip > 0:
            raise ConfigError(f"model.clip must be positive (or null for no clipping), got {cfg.clip}")
        if min(cfg.penalty_weight, cfg.r1_weight, cfg.vi_weight) < 0:
            raise ConfigError("model.penalty_weight, r1_weight and vi_weight must be >= 0")
        uses_input_grads = cfg.penalty != "none" or cfg.r1_weight > 0 or cfg.grad_norm != "none"
        if cfg.critic_norm == "batch" and uses_input_grads:
            raise ConfigError(
                "model.critic_norm=batch mixes examples, so per-example input gradients (penalty, "
                "r1_weight, grad_norm) lose their meaning; use critic_norm: layer or none"
            )
        if cfg.mode == "single_loss" and (cfg.n_critic != 1 or cfg.g_steps != 1 or cfg.vi_weight):
            raise ConfigError("model.mode=single_loss is a simultaneous 1:1 update: set n_critic: 1, "
                              "g_steps: 1 and vi_weight: 0 (use mode: alternating for those)")
        if cfg.vi_weight > 0 and cfg.g_steps < 2:
            raise ConfigError(
                "model.vi_weight > 0 needs g_steps >= 2: the anchor is the generator's output before "
                "its updates, so the penalty and its gradient are zero at the first g-step"
            )

    # ---------------------------------------------------------------- pieces
    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"generator": list(self.generator.parameters()),
                "critic": list(self.critic.parameters())}

    def _param(self) -> Tensor:
        return next(self.generator.parameters())

    def latents(self, n: int) -> Tensor:
        """n draws from the training prior."""
        p = self._param()
        return sample_prior(n, self.cfg.latent_dim, self.cfg.prior, p.device, p.dtype)

    def _clip(self) -> None:
        if self.cfg.clip is not None:
            clip_weights_(self.critic, self.cfg.clip)

    def score(self, x: Tensor) -> Tensor:
        """Critic scores (B,) -- gradient-normalised when grad_norm is set."""
        return self.critic(x).flatten()

    def critic_objective(self, real: Tensor, fake: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Critic loss plus penalties; `fake` must already be detached from the generator."""
        real_s, fake_s = self.score(real), self.score(fake)
        loss = self.objective.critic_loss(real_s, fake_s)
        return self._with_penalties(loss, real, fake, real_s, fake_s)

    def _with_penalties(self, loss: Tensor, real: Tensor, fake: Tensor, real_s: Tensor,
                        fake_s: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        cfg = self.cfg
        logs = {"critic_loss": loss, "d_real": real_s.mean(), "d_fake": fake_s.mean()}
        if cfg.penalty != "none":
            fn = gradient_penalty if cfg.penalty == "gp" else finite_difference_penalty
            pen = fn(self.score, real, fake, cfg.penalty_mode, cfg.penalty_power)
            loss = loss + cfg.penalty_weight * pen
            logs["penalty"] = pen
        if cfg.r1_weight > 0:
            r1 = r1_penalty(self.score, real)
            loss = loss + cfg.r1_weight * r1
            logs["r1"] = r1
        return loss, logs

    def generator_objective(self, fake: Tensor, anchor: Tensor | None = None
                            ) -> tuple[Tensor, dict[str, Tensor]]:
        """Generator loss on attached fakes G(z), plus the VI anchor term if `anchor` is given."""
        loss = self.objective.generator_loss(self.score(fake))
        logs = {"gen_loss": loss}
        if anchor is not None and self.cfg.vi_weight > 0:
            vi = anchor_penalty(fake, anchor)
            loss = loss + self.cfg.vi_weight * vi
            logs["vi"] = vi
        return loss, logs

    def single_loss_objective(self, real: Tensor, z: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """One loss whose gradient is grad(critic loss + penalties) for the critic and lambda *
        grad(generator loss) for the generator, by the fastest exact formulation for the objective
        (`genlab.models.gan.single_loss`)."""
        fake = self.generator(z)
        fake_sg = fake.detach()  # the critic's own terms and the penalties must not reach G
        weight = self.cfg.single_loss_weight
        how = formulation(self.objective, self.cfg.critic_norm == "batch")
        # Real and fake are scored in separate calls, as in the alternating critic step (per-call
        # batch statistics); two calls of B rows are also cheaper than one of 2B on CPU.
        real_s = self.score(real)
        if how == "split":
            fake_s = self.score(fake_sg)
            loss = self.objective.critic_loss(real_s, fake_s)
            # G(z) through the critic with detached weights: the generator's term reaches G only.
            gen_s = detached_call(self.critic, fake).flatten()
            gen_loss = self.objective.generator_loss(gen_s)
            loss = loss + weight * gen_loss
        else:
            scale: float | Tensor = (weight * reversal_scale(self.objective) if how == "reversal"
                                     else torch.empty(fake.shape[0], device=fake.device, dtype=fake.dtype))
            # The critic sees G(z) itself; the gradient flowing back into G is multiplied by `scale`,
            # which turns the critic's fake-term gradient into lambda times the generator's.
            fake_s = self.score(reverse_gradient(fake, scale))
            loss = self.objective.critic_loss(real_s, fake_s)
            gen_loss = self.objective.generator_loss(fake_s.detach())
            if how == "row_reversal":
                s = fake_s.detach()
                if bool(s.min() > row_reversal_limit(s.dtype)):  # host sync, once per step
                    scale.copy_(weight * row_reversal_scale(self.objective, s))
                else:  # g'(s) underflowed for some row: route G's gradient the split way instead
                    scale.zero_()
                    loss = loss + weight * self.objective.generator_loss(
                        detached_call(self.critic, fake).flatten())
        loss, logs = self._with_penalties(loss, real, fake_sg, real_s, fake_s)
        logs["gen_loss"] = gen_loss.detach()
        return loss, logs

    # ---------------------------------------------------------------- protocol
    def train_step(self, batch: Batch, ctx: StepContext) -> Iterator[Update]:
        x = batch["x"]
        if self.cfg.mode == "single_loss":
            self._clip()
            loss, logs = self.single_loss_objective(x, self.latents(x.shape[0]))
            yield Update(("critic", "generator"), loss, logs)
            return
        k = self.cfg.n_critic
        if x.shape[0] < k:
            raise ConfigError(f"a batch of {x.shape[0]} examples cannot be split among n_critic={k} "
                              "critic steps; raise data.batch_size")
        chunks = x.chunk(k)
        for real in chunks:
            self._clip()
            with torch.no_grad():  # fakes are constants in the critic step
                fake = self.generator(self.latents(real.shape[0]))
            loss, logs = self.critic_objective(real, fake)
            yield Update(("critic",), loss, logs)
        self._clip()
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
        cfg, p = self.cfg, self._param()
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
