"""Bits/dim: one convention for every likelihood model.

The importance-sampled estimator lives in `genlab.distributions.importance_sampling`.
"""

from __future__ import annotations

import math

from torch import Tensor

from genlab.data.pixels import Pixels


def bits_per_dim(log_p: Tensor, x: Tensor, pixels: Pixels | None) -> Tensor:
    """Per-example bits/dim from a model's log-density of its inputs x (nats).

    For images the data transform's correction is added first (`Pixels.log_jacobian`: the
    dequantization's -D log L and the Jacobian of any scaling or logit), counted exactly once here.
    For continuous vector data (2-D toys) this is plain -log p / (D ln 2). Computed in float64
    (returned in log_p's dtype), so a uniform density on 8-bit data gives exactly 8 bits/dim
    (Theis et al. 2016).

    Example:
        >>> import torch
        >>> from genlab.data.pixels import Pixels
        >>> x = torch.rand(2, 4)  # dequantized 8-bit pixels in [0, 1); a uniform density there has log p = 0
        >>> bits_per_dim(torch.zeros(2), x, Pixels(levels=256))
        tensor([8., 8.])
    """
    dims = x[0].numel()
    out = log_p.double()
    if pixels is not None:
        out = out + pixels.log_jacobian(x.double())
    return (-out / (dims * math.log(2.0))).to(log_p.dtype)
