"""Encoder/decoder pairs of the autoencoding models (VAE, AAE, ALI, multi-task), one builder for all.

`encoder_decoder(kind, shape, n_out, n_in, hidden, depth, norm=..., output=...)` returns an encoder
x (B, *shape) -> (B, n_out) and a decoder z (B, n_in) -> (B, *shape), picked by `kind` from the
`AUTOENCODERS` registry, whose names are the `NetKind` Literal that configs annotate `model.net` with:

* "mlp": Flatten -> `mlp` (`depth` hidden layers of width `hidden`); the decoder is `MLPGenerator`.
* "conv": the DCGAN-style stacks of `genlab.nets.conv` (`ConvEncoder` / `ConvDecoder`, `hidden` base
  channels, the number of stride-2 stages set by the image size; `depth` does not apply). Needs
  square images (C, H, H).

`norm` adds a normalisation after each hidden decoder layer and `output` a final activation; None
leaves no slot for either (the plain layout). The conv decoder also leaves no slot for norm "none", so
its parameter names are those of decoders built before the option existed; the MLP decoder keeps the
slot, as `MLPGenerator` always had one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

from torch import nn

from genlab.core.registry import Registry
from genlab.nets.conv import ConvDecoder, ConvEncoder, square_image
from genlab.nets.mlp import MLPGenerator, mlp
from genlab.nets.norm import Norm, Output

NetKind = Literal["mlp", "conv"]
Pair = tuple[nn.Module, nn.Module]  # (encoder, decoder)
Builder = Callable[..., Pair]  # (shape, n_out, n_in, hidden, depth, norm, output) -> Pair

AUTOENCODERS: Registry[Builder] = Registry("model.net")


@AUTOENCODERS.register("mlp")
def mlp_pair(shape: tuple[int, ...], n_out: int, n_in: int, hidden: int, depth: int,
             norm: Norm | None = None, output: Output | None = None) -> Pair:
    encoder = nn.Sequential(nn.Flatten(), mlp(math.prod(shape), n_out, hidden, depth))
    return encoder, MLPGenerator(n_in, shape, hidden, depth, norm=norm, output=output)


@AUTOENCODERS.register("conv")
def conv_pair(shape: tuple[int, ...], n_out: int, n_in: int, hidden: int, depth: int,
              norm: Norm | None = None, output: Output | None = None) -> Pair:
    image = square_image(shape, "model.net=conv")
    encoder = ConvEncoder(image, n_out, hidden)
    return encoder, ConvDecoder(n_in, image, hidden, norm=None if norm == "none" else norm, output=output)


def encoder_decoder(kind: NetKind, shape: tuple[int, ...], n_out: int, n_in: int, hidden: int,
                    depth: int, *, norm: Norm | None = None, output: Output | None = None) -> Pair:
    """(encoder with `n_out` outputs, decoder from `n_in` inputs to examples of `shape`); see the
    module docstring for the layouts. The encoder is built first (so seeded inits are reproducible)."""
    return AUTOENCODERS.get(kind)(tuple(shape), n_out, n_in, hidden, depth, norm, output)


__all__ = ["AUTOENCODERS", "NetKind", "conv_pair", "encoder_decoder", "mlp_pair"]
