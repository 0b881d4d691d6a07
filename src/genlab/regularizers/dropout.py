"""Dropout whose mask is shared along chosen dimensions (Keras' `noise_shape`).

y = x * m / (1 - p), m ~ Bernoulli(1 - p) drawn with shape `noise_shape` and broadcast to x: a 1
shares one mask entry along that dimension. With x of shape (B, T, D), noise_shape (None, None, 1)
drops whole token vectors; with images (B, C, H, W), (None, None, 1, 1) drops whole channels
(https://kexue.fm/archives/4521; Srivastava et al., JMLR 15 (2014), eq. for the inverted scaling).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from genlab.core.checks import check_range


class StructuredDropout(nn.Module):
    """Inverted dropout with a mask of shape `noise_shape` (entries 1, None = full size, or the size).

    `noise_shape=None` is ordinary elementwise dropout. Identity in eval mode and for p = 0; the
    expectation of the output equals the input in training mode.
    """

    def __init__(self, p: float = 0.5, noise_shape: Sequence[int | None] | None = None) -> None:
        super().__init__()
        check_range("p", p, 0.0, 1.0, high_open=True)
        if noise_shape is not None:
            noise_shape = tuple(noise_shape)
            bad = [d for d in noise_shape if d is not None and (isinstance(d, bool) or not isinstance(d, int)
                                                                or d < 1)]
            if bad:
                raise ValueError(f"noise_shape entries must be 1, None or a positive size, got {noise_shape}")
        self.p, self.noise_shape = float(p), noise_shape

    def mask_shape(self, shape: Sequence[int]) -> tuple[int, ...]:
        """The mask's shape for an input of `shape` (checks that noise_shape fits it)."""
        if self.noise_shape is None:
            return tuple(shape)
        if len(self.noise_shape) != len(shape):
            raise ValueError(f"noise_shape {self.noise_shape} has {len(self.noise_shape)} entries, "
                             f"the input has {len(shape)} dimensions {tuple(shape)}")
        out = []
        for d, n in zip(self.noise_shape, shape):
            if d is not None and d not in (1, n):
                raise ValueError(f"noise_shape {self.noise_shape} does not fit input shape {tuple(shape)}: "
                                 "each entry must be 1, None or the input's size")
            out.append(n if d is None else d)
        return tuple(out)

    def forward(self, x: Tensor) -> Tensor:
        shape = self.mask_shape(x.shape)
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = torch.empty(shape, device=x.device, dtype=x.dtype).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"p={self.p}, noise_shape={self.noise_shape}"
