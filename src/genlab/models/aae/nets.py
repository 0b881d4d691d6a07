"""Encoder x -> (B, n_out) and decoder z -> example networks of the autoencoding models (AAE, ALI),
built from `genlab.nets` bodies: MLPs on flattened examples, or the DCGAN-style conv stacks."""

from __future__ import annotations

import math

from torch import nn

from genlab.core.checks import choice
from genlab.nets import ConvDecoder, ConvEncoder, MLPGenerator, mlp
from genlab.nets.norm import NORMS

NETS = ("mlp", "conv")


def _mlp(shape: tuple[int, ...], n_out: int, n_in: int, hidden: int, depth: int,
         output: str, norm: str) -> tuple[nn.Module, nn.Module]:
    encoder = nn.Sequential(nn.Flatten(), mlp(math.prod(shape), n_out, hidden, depth))
    return encoder, MLPGenerator(n_in, shape, hidden, depth, norm=norm, output=output)


def _conv(shape: tuple[int, ...], n_out: int, n_in: int, hidden: int, depth: int,
          output: str, norm: str) -> tuple[nn.Module, nn.Module]:
    # `depth` does not apply: the number of stride-2 stages follows from the image size. norm "none"
    # leaves no slot, so the decoder's parameter names match checkpoints saved without the option.
    decoder = ConvDecoder(n_in, shape, hidden, norm=None if norm == "none" else norm, output=output)
    return ConvEncoder(shape, n_out, hidden), decoder


_BUILDERS = {"mlp": _mlp, "conv": _conv}


def build_autoencoder(net: str, shape: tuple[int, ...], n_out: int, n_in: int, hidden: int,
                      depth: int, output: str = "none", norm: str = "none") -> tuple[nn.Module, nn.Module]:
    """(encoder with `n_out` outputs, decoder from `n_in` inputs to `shape` with activation `output`
    and normalisation `norm` after each hidden layer)."""
    choice(norm, NORMS, "model.decoder_norm")
    return _BUILDERS[choice(net, NETS, "model.net")](tuple(shape), n_out, n_in, hidden, depth, output, norm)


__all__ = ["NETS", "build_autoencoder"]
