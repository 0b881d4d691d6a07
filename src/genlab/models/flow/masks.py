"""Binary masks choosing which coordinates a coupling layer keeps fixed (RealNVP, arXiv:1605.08803,
sec. 3.4). 1 marks a conditioning (unchanged) coordinate, 0 a transformed one.

Channel-wise masks are not built here: couplings with `mask=None` split the channels in halves,
which is the same partition without feeding zeros to the network.
"""

from __future__ import annotations

import torch
from torch import Tensor


def parity_mask(dims: int, parity: int) -> Tensor:
    """(dims,) mask keeping the even (parity 0) or odd (parity 1) indices, NICE's partition of a
    vector (arXiv:1410.8516, sec. 5.1); alternating parity between layers updates every index."""
    return ((torch.arange(dims) + parity) % 2 == 0).float()


def checkerboard_mask(height: int, width: int, parity: int) -> Tensor:
    """(1, H, W) spatial checkerboard: 1 where (row + col + parity) is even (RealNVP, fig. 3)."""
    rows = torch.arange(height).view(-1, 1)
    cols = torch.arange(width).view(1, -1)
    return ((rows + cols + parity) % 2 == 0).float().unsqueeze(0)
