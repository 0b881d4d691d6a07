"""Choosers for the normalisation and output layers named in configs ("none" | "layer" | "batch", etc.).

"layer" on feature maps is GroupNorm(1, C): a per-example LayerNorm over C, H, W, as the WGAN-GP critic
uses (Gulrajani et al. 2017, arXiv:1704.00028), because batch norm mixes the examples of a batch.
"""

from __future__ import annotations

from torch import nn

from genlab.core.checks import choice

NORMS = ("none", "layer", "batch")
OUTPUTS = ("none", "tanh", "sigmoid")


def norm_layer(kind: str, ch: int, feature: bool = False) -> nn.Module:
    """Normalisation layer `kind`: `feature` for (B, ch) vectors, else for (B, ch, H, W) maps."""
    choice(kind, NORMS, "normalisation")
    if kind == "batch":
        return nn.BatchNorm1d(ch) if feature else nn.BatchNorm2d(ch)
    if kind == "layer":
        return nn.LayerNorm(ch) if feature else nn.GroupNorm(1, ch)
    return nn.Identity()


def output_layer(kind: str) -> nn.Module:
    """Final activation of a generator/decoder: identity, tanh (data in [-1, 1]) or sigmoid ([0, 1])."""
    choice(kind, OUTPUTS, "generator output")
    return {"tanh": nn.Tanh, "sigmoid": nn.Sigmoid}.get(kind, nn.Identity)()
