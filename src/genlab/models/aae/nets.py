"""Encoder x -> (B, n_out) and decoder z -> example networks of the autoencoding models (AAE, ALI):
`genlab.nets.autoencoder.encoder_decoder` with the decoder's normalisation and output layer.

`NETS` are the `model.net` choices (the `NetKind` Literal); `build_autoencoder` keeps the signature
the AAE and ALI models call.
"""

from __future__ import annotations

from typing import get_args

from torch import nn

from genlab.nets.autoencoder import NetKind, encoder_decoder
from genlab.nets.norm import Norm, Output

NETS: tuple[str, ...] = get_args(NetKind)


def build_autoencoder(net: NetKind, shape: tuple[int, ...], n_out: int, n_in: int, hidden: int, depth: int,
                      output: Output = "none", norm: Norm = "none") -> tuple[nn.Module, nn.Module]:
    """(encoder with `n_out` outputs, decoder from `n_in` inputs to `shape` with activation `output`
    and normalisation `norm` after each hidden layer). An MLP decoder keeps a norm slot even for
    "none"; a conv decoder has none then (the parameter names of decoders saved before the option)."""
    return encoder_decoder(net, shape, n_out, n_in, hidden, depth, norm=norm, output=output)


__all__ = ["NETS", "build_autoencoder"]
