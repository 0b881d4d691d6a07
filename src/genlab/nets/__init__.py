"""Reusable network bodies (MLPs, small conv encoders/decoders)."""

from genlab.nets.conv import ConvDecoder, ConvEncoder
from genlab.nets.mlp import mlp

__all__ = ["ConvDecoder", "ConvEncoder", "mlp"]
