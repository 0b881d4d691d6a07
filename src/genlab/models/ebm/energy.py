"""Energy networks E(x) -> (B,): an MLP for vectors and a small stride-2 conv net for images.

No batch norm: the energy of one example must not depend on the others in its batch, and Langevin
needs per-example input gradients. Smooth activations (swish, as the IGEBM ImageNet model uses; Du &
Mordatch 2019, arXiv:1903.08689) give smooth energy landscapes; LeakyReLU is the cheap alternative.
Optional spectral normalisation (on by default in the official code) bounds the net's Lipschitz
constant, which keeps the Langevin gradients tame (https://kexue.fm/archives/6612).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Literal

from torch import nn

from genlab.adversarial.spectral import apply_spectral_norm
from genlab.core.registry import Registry
from genlab.nets import Scores, down_layers, downsample_plan, mlp_layers
from genlab.nets.autoencoder import NetKind
from genlab.nets.conv import square_image

Activation = Literal["swish", "leaky_relu"]
ACTIVATIONS: Registry[Callable[[], nn.Module]] = Registry("model.act")
ACTIVATIONS.register("swish")(nn.SiLU)
ACTIVATIONS.register("leaky_relu")(partial(nn.LeakyReLU, 0.2))


def mlp_energy(shape: tuple[int, ...], hidden: int = 128, depth: int = 3,
               act: Activation = "swish") -> Scores:
    """Flatten -> `depth` x [Linear, act] of width `hidden` -> one energy per example."""
    body = mlp_layers(math.prod(shape), 1, hidden, depth, ACTIVATIONS.get(act))
    return Scores(nn.Sequential(nn.Flatten(), *body))


def conv_energy(shape: tuple[int, ...], base: int = 32, act: Activation = "swish") -> Scores:
    """Conv 3x3 -> stride-2 4x4 convs doubling channels (`genlab.nets.conv`) -> Linear -> energies."""
    c, h, _ = square_image(shape, "model.net=conv")
    n, s = downsample_plan(h)
    layers, ch = down_layers(c, base, n, ACTIVATIONS.get(act))
    return Scores(nn.Sequential(*layers, nn.Flatten(), nn.Linear(ch * s * s, 1)))


# NetKind -> (shape, hidden, depth, act) -> energy net; `hidden` is the MLP width or the conv base channels
ENERGY_NETS: Registry[Callable[..., Scores]] = Registry("model.net")
ENERGY_NETS.register("mlp")(mlp_energy)
ENERGY_NETS.register("conv")(lambda shape, hidden, depth, act: conv_energy(shape, hidden, act))


def build_energy(net: NetKind, shape: tuple[int, ...], hidden: int, depth: int, act: Activation,
                 spectral_norm: bool) -> Scores:
    """The energy net of family `net`; `hidden` is the MLP width or the conv base channel count."""
    energy = ENERGY_NETS.get(net)(shape, hidden, depth, act)
    if spectral_norm:
        apply_spectral_norm(energy)
    return energy


__all__ = ["ACTIVATIONS", "ENERGY_NETS", "Activation", "build_energy", "conv_energy", "mlp_energy"]
