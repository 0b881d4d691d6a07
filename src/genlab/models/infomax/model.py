"""Deep InfoMax with a Gaussian code and an analytic KL prior term.

Hjelm et al. 2019, "Learning deep representations by mutual information estimation and maximization"
(ICLR, arXiv:1808.06670), in the variant of https://kexue.fm/archives/6024: the encoder gives a
Gaussian code z = mu + sigma * eps (reparameterised), and the loss

    L = -alpha JS(global) - beta / (h w) sum_ij JS(local_ij) + gamma E_x KL(q(z|x) || N(0, I))

maximises Jensen-Shannon estimates of the mutual information between z and the whole image (global)
and between z and each position of an intermediate feature map (local), while the KL term replaces
DIM's adversarial prior matching: -I + lambda KL(p(z) || q(z)) = -(1 + lambda) I + lambda E_x KL(p(z|x)
|| q(z)). Negative pairs come from the same batch through a derangement (no item paired with itself).
Weights alpha = 0.5, beta = 1.5, gamma = 0.01 and the reductions (JS terms in binary-cross-entropy
scale, KL averaged over code dimensions) are those of the reference code (`bojone/infomax`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, get_args

import torch
from torch import Tensor

from genlab.core.checks import check_int, check_range
from genlab.core.errors import ConfigError
from genlab.core.protocol import Batch, DataSpec, Model, StepContext, Update
from genlab.distributions.gaussian import kl_std_normal
from genlab.models.infomax.mi import js_mi_bound, js_mi_loss
from genlab.models.infomax.negatives import derangement
from genlab.models.infomax.nets import InfoMaxEncoder, PairCritic
from genlab.models.registry import MODELS

GlobalPair = Literal["z_z", "feat_z"]
ProbeLayer = Literal["conv", "feature", "code"]
GLOBAL_PAIRS: tuple[str, ...] = get_args(GlobalPair)
PROBE_LAYERS: tuple[str, ...] = get_args(ProbeLayer)


@MODELS.register("infomax")
class DeepInfoMax(Model):
    """Unsupervised representation learner: an `Encoder` (encode(x) = code mean; a probe reads
    `representation(x)`, the layer `probe_layer`), not a `Sampler`."""

    @dataclass
    class Config:
        latent_dim: int = 64
        channels: tuple[int, ...] = (32, 64)  # local blocks, each [conv, BN, LeakyReLU, max-pool 2]
        global_channels: int = 128  # width of the conv layers between the local map and the code
        global_layers: int = 2
        critic_hidden: int = 256  # both critics: MLPs on concatenated pairs
        critic_depth: int = 3
        alpha: float = 0.5  # weight of the global JS-MI term
        beta: float = 1.5  # weight of the local JS-MI term (averaged over positions)
        gamma: float = 0.01  # weight of the KL(q(z|x) || N(0, I)) term (averaged over code dimensions)
        # global pairs: (z, z) as in the reference code, or (global feature of x, z) as in the article
        global_pair: GlobalPair = "z_z"
        # the layer a linear probe reads (`representation`), Hjelm et al.'s "conv" / "fc" / "Y": the
        # local feature map flattened, the global (max-pooled) feature, or the code mean (`encode`,
        # the article's downstream feature)
        probe_layer: ProbeLayer = "code"

        def __post_init__(self) -> None:
            for name, low in (("latent_dim", 1), ("global_channels", 1), ("global_layers", 0),
                              ("critic_hidden", 1), ("critic_depth", 0)):
                check_int(f"model.{name}", getattr(self, name), low)
            if not self.channels:
                raise ConfigError("model.channels needs at least one local block, e.g. [32, 64]")
            for i, ch in enumerate(self.channels):
                check_int(f"model.channels[{i}]", ch, 1)
            for name in ("alpha", "beta", "gamma"):
                check_range(f"model.{name}", getattr(self, name), 0.0)

    def __init__(self, cfg: Config, spec: DataSpec | tuple[int, ...]):
        spec = DataSpec.coerce(spec)
        if len(spec.shape) != 3:  # any (C, H, W) array will do: pixel levels are not needed
            spec.require("model infomax", image=True)
        shape = tuple(spec.shape)
        super().__init__()
        self.cfg, self.shape = cfg, shape
        self.encoder = InfoMaxEncoder(shape, tuple(cfg.channels), cfg.global_channels, cfg.global_layers,
                                      cfg.latent_dim)
        d = cfg.latent_dim
        d_global = d if cfg.global_pair == "z_z" else self.encoder.global_features
        self.global_critic = PairCritic(d_global, d, cfg.critic_hidden, cfg.critic_depth)
        self.local_critic = PairCritic(d, self.encoder.local_channels, cfg.critic_hidden, cfg.critic_depth)

    def encode(self, x: Tensor) -> Tensor:
        """The code mean (B, latent_dim): the representation used downstream."""
        self._check(x)
        return self.encoder(x)[2]

    @torch.no_grad()
    def representation(self, x: Tensor) -> Tensor:
        """The features a linear probe reads, chosen by `model.probe_layer` among the three layers
        Hjelm et al. 2019 evaluate: `conv`, the local feature map C(x) flattened (channels x h x w,
        their "conv"); `feature`, the global feature feeding the code heads (their "fc"); `code`, the
        code mean (their "Y"; `encode`, the downstream feature of https://kexue.fm/archives/6024)."""
        self._check(x)
        local, feature, mean, _ = self.encoder(x)
        return {"conv": local.flatten(1), "feature": feature, "code": mean}[self.cfg.probe_layer]

    def losses(self, x: Tensor) -> dict[str, Tensor]:
        """Loss terms of one batch: `global`/`local` (JS losses), `mi_global`/`mi_local` (their JS
        bounds in nats) and `kl` (per code dimension), all batch means."""
        self._check(x)
        if len(x) < 2:
            raise ValueError("model infomax needs batches of >= 2 examples (negatives come from the batch)")
        local, feature, mean, log_var = self.encoder(x)
        log_var = log_var.clamp(-20.0, 10.0)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * log_var)
        perm = derangement(len(x), device=x.device)

        # global: (a_i, z_i) positive, (a_perm(i), z_i) negative; a = z (reference code) or the feature
        a = z if self.cfg.global_pair == "z_z" else feature
        pos_g, neg_g = self.global_critic(a, z), self.global_critic(a[perm], z)

        # local: z_i against every position of its own map (positive) and of another image's (negative)
        cmap = local.permute(0, 2, 3, 1)  # (B, h, w, c)
        zmap = z[:, None, None, :].expand(*cmap.shape[:3], z.shape[1])
        pos_l, neg_l = self.local_critic(zmap, cmap), self.local_critic(zmap, cmap[perm])

        return {
            "global": js_mi_loss(pos_g, neg_g), "local": js_mi_loss(pos_l, neg_l),
            "mi_global": js_mi_bound(pos_g.detach(), neg_g.detach()),
            "mi_local": js_mi_bound(pos_l.detach(), neg_l.detach()),
            "kl": kl_std_normal(mean, log_var).mean(),
        }

    def train_step(self, batch: Batch, ctx: StepContext) -> Iterator[Update]:
        t, c = self.losses(batch["x"]), self.cfg
        loss = c.alpha * t["global"] + c.beta * t["local"] + c.gamma * t["kl"]
        yield Update(("model",), loss, {"loss": loss, "mi_global": t["mi_global"], "mi_local": t["mi_local"],
                                        "kl": t["kl"].detach()})

    def _check(self, x: Tensor) -> None:
        if tuple(x.shape[1:]) != self.shape:
            raise ValueError(f"model infomax built for examples of shape {self.shape}, "
                             f"got a batch of shape {tuple(x.shape)}")
