"""The GAN's (generator, critic) pair from config: MLP, DCGAN or ResNet bodies from `genlab.nets`.

Critics return one score per example, shape (B,). Batch norm mixes the examples of a batch, so it is
refused in critics whose loss uses per-example input gradients (checked in the model's config
validation); use `norm: layer` (a per-example LayerNorm over C, H, W) instead, as WGAN-GP
(arXiv:1704.00028) does.
"""

from __future__ import annotations

from torch import nn

from genlab.core.checks import choice
from genlab.core.errors import ConfigError
from genlab.nets import DCGANGenerator, MLPGenerator, ResNetCritic, ResNetGenerator, dcgan_critic, mlp_critic

NETS = ("mlp", "dcgan", "resnet")


def build_nets(net: str, latent_dim: int, shape: tuple[int, ...], hidden: int, depth: int,
               generator_norm: str, critic_norm: str, output: str) -> tuple[nn.Module, nn.Module]:
    """(generator, critic) of family `net`; `hidden` is the MLP width or the conv base channels."""
    choice(net, NETS, "model.net")
    if net == "mlp":
        return (MLPGenerator(latent_dim, shape, hidden, depth, generator_norm, output),
                mlp_critic(shape, hidden, depth, critic_norm))
    if net == "dcgan":
        return (DCGANGenerator(latent_dim, shape, hidden, generator_norm, output),
                dcgan_critic(shape, hidden, critic_norm))
    if critic_norm != "none":
        raise ConfigError("model.net=resnet has a normalisation-free critic; set critic_norm: none")
    return ResNetGenerator(latent_dim, shape, hidden, generator_norm, output), ResNetCritic(shape, hidden)


__all__ = ["NETS", "build_nets"]
