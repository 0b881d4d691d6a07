"""The normalisation and output layers that configs name: `Norm` ("none" | "layer" | "batch") and
`Output` ("none" | "tanh" | "sigmoid").

Configs annotate these options with the `Norm` / `Output` Literals, so a bad name fails when the config
is built; `norm_layer` / `output_layer` look the name up in a `Registry`, which still names the choices
for code that calls them directly.

"layer" on feature maps is GroupNorm(1, C): a per-example LayerNorm over C, H, W, as the WGAN-GP critic
uses (Gulrajani et al. 2017, arXiv:1704.00028), because batch norm mixes the examples of a batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, get_args

from torch import nn

from genlab.core.registry import Registry

Norm = Literal["none", "layer", "batch"]
Output = Literal["none", "tanh", "sigmoid"]
NORMS: tuple[str, ...] = get_args(Norm)
OUTPUTS: tuple[str, ...] = get_args(Output)

# (channels, feature) -> layer; `feature`: for (B, ch) vectors, else for (B, ch, H, W) maps
NORM_LAYERS: Registry[Callable[[int, bool], nn.Module]] = Registry("normalisation")
NORM_LAYERS.register("none")(lambda ch, feature: nn.Identity())
NORM_LAYERS.register("layer")(lambda ch, feature: nn.LayerNorm(ch) if feature else nn.GroupNorm(1, ch))
NORM_LAYERS.register("batch")(lambda ch, feature: nn.BatchNorm1d(ch) if feature else nn.BatchNorm2d(ch))

OUTPUT_LAYERS: Registry[Callable[[], nn.Module]] = Registry("generator output")
OUTPUT_LAYERS.register("none")(nn.Identity)
OUTPUT_LAYERS.register("tanh")(nn.Tanh)  # data in [-1, 1]
OUTPUT_LAYERS.register("sigmoid")(nn.Sigmoid)  # data in [0, 1]


def norm_layer(kind: Norm, ch: int, feature: bool = False) -> nn.Module:
    """Normalisation layer `kind`: `feature` for (B, ch) vectors, else for (B, ch, H, W) maps."""
    return NORM_LAYERS.get(kind)(ch, feature)


def output_layer(kind: Output) -> nn.Module:
    """Final activation of a generator/decoder: identity, tanh (data in [-1, 1]) or sigmoid ([0, 1])."""
    return OUTPUT_LAYERS.get(kind)()


__all__ = ["NORMS", "NORM_LAYERS", "OUTPUTS", "OUTPUT_LAYERS", "Norm", "Output", "norm_layer", "output_layer"]
