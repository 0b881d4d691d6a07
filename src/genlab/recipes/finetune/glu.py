"""Gated linear feature layer: (x W + b) * sigmoid(x V + c) (Dauphin et al. 2017, eq. 1; used as the
feature layer on top of a pretrained backbone in https://kexue.fm/archives/4611)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genlab.core.checks import check_int


class GLU(nn.Module):
    """(N, in_features) -> (N, out_features): a linear map gated elementwise by a sigmoid of another."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        check_int("in_features", in_features, 1)
        check_int("out_features", out_features, 1)
        self.value = nn.Linear(in_features, out_features)
        self.gate = nn.Linear(in_features, out_features)

    def forward(self, x: Tensor) -> Tensor:
        return self.value(x) * torch.sigmoid(self.gate(x))
