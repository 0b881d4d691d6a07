"""The GAN's (generator, critic) pair from config: MLP, DCGAN or ResNet bodies from `genlab.nets`.

Critics return one score per example, shape (B,). Batch norm mixes the examples of a batch, so it is
refused in critics whose loss uses per-example input gradients (checked by
`genlab.adversarial.CriticConfig`); use `critic.norm: layer` (a per-example LayerNorm over C, H, W)
instead, as WGAN-GP (arXiv:1704.00028) does.
"""

from __future__ import annotations

from typing import Literal

from torch import nn

from genlab.core.checks import choice
from genlab.nets import DCGANGenerator, MLPGenerator, ResNetCritic, ResNetGenerator, dcgan_critic, mlp_critic

GANNet = Literal["mlp", "dcgan", "resnet"]
NETS: tuple[GANNet, ...] = ("mlp", "dcgan", "resnet")


def build_nets(net: str, latent_dim: int, shape: tuple[int, ...], hidden: int, depth: int,
               generator_norm: str, critic_norm: str, output: str, critic_hidden: int | None = None,
               critic_depth: int | None = None) -> tuple[nn.Module, nn.Module]:
    """(generator, critic) of family `net`; `hidden` is the MLP width or the conv base channels,
    `critic_hidden` / `critic_depth` the critic's when they differ (None: the same). The ResNet
    critic has no normalisation (`critic_norm` must be "none", checked in the model's config)."""
    choice(net, NETS, "model.net")
    d_hidden = hidden if critic_hidden is None else critic_hidden
    d_depth = depth if critic_depth is None else critic_depth
    if net == "mlp":
        return (MLPGenerator(latent_dim, shape, hidden, depth, generator_norm, output),
                mlp_critic(shape, d_hidden, d_depth, critic_norm))
    if net == "dcgan":
        return (DCGANGenerator(latent_dim, shape, hidden, generator_norm, output),
                dcgan_critic(shape, d_hidden, critic_norm))
    return ResNetGenerator(latent_dim, shape, hidden, generator_norm, output), ResNetCritic(shape, d_hidden)


__all__ = ["NETS", "GANNet", "build_nets"]
