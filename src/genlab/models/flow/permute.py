"""Fixed channel permutations: NICE's reversal and RealNVP's random shuffle.

Stacked couplings must change which coordinates are transformed, or half of them never change
(NICE, arXiv:1410.8516, sec. 3.2). A permutation has |det| = 1, so log-det 0. Glow (arXiv:1807.03039,
fig. 3) found reverse < shuffle < learned 1x1 convolution in final likelihood.
"""

from __future__ import annotations

from typing import Literal, get_args

import torch
from torch import Tensor

from genlab.core.checks import choice
from genlab.models.flow.base import Bijection, check_channels, wide

PermutationKind = Literal["reverse", "shuffle"]
KINDS: tuple[str, ...] = get_args(PermutationKind)


class Permute(Bijection):
    """Permute the channel (or feature) dimension; `shuffle` draws the order from `seed`."""

    def __init__(self, channels: int, kind: PermutationKind = "reverse", seed: int = 0):
        super().__init__()
        choice(kind, KINDS, "permutation")
        self.channels = channels
        if kind == "reverse":
            perm = torch.arange(channels - 1, -1, -1)
        else:
            perm = torch.randperm(channels, generator=torch.Generator().manual_seed(seed))
        self.register_buffer("perm", perm)
        self.register_buffer("inv_perm", torch.argsort(perm))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        check_channels(x, self.channels, "Permute")
        return x[:, self.perm], wide(x.new_zeros(x.shape[0]))

    def inverse(self, y: Tensor) -> Tensor:
        check_channels(y, self.channels, "Permute")
        return y[:, self.inv_perm]
