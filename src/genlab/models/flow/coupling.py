"""Coupling layers (NICE, RealNVP, Glow) and NICE's diagonal scaling layer.

A coupling layer splits x into a kept part x_a and a changed part x_b, and changes x_b by an
elementwise map whose parameters are any function of x_a. The Jacobian is triangular, so its
log-determinant is the sum of the elementwise log-slopes, and the inverse only needs the same
network evaluated on the (unchanged) x_a.

* Additive (NICE, arXiv:1410.8516, sec. 3.2): y_b = x_b + m(x_a), log-det 0.
* Affine (RealNVP, arXiv:1605.08803, sec. 3.3; Glow, arXiv:1807.03039, table 1): the papers write
  y_b = x_b * exp(log s(x_a)) + t(x_a). An unbounded exp is what makes early training blow up, so the
  log-scale is bounded here:
    - "sigmoid": y_b = (x_b + t) * sigmoid(h + 2), the form of Glow's released code (scale in (0, 1),
      0.88 at a zero-initialised network);
    - "tanh":    log s = c * tanh(h / c), a soft clamp to (-c, c) with slope 1 at 0, so a
      zero-initialised network gives exactly the identity (RealNVP's own code also passes the
      log-scale through a tanh).
  The network's last layer is zero-initialised (Glow sec. 3.3), so every coupling starts at (or, for
  "sigmoid", near) the identity.

The partition is either a binary `mask` over coordinates (RealNVP's checkerboard for images, NICE's
odd/even split for vectors) or, with `mask=None`, the channel halves (RealNVP's channel-wise masking
and Glow's split). An image mask keeps the spatial layout, so its network sees x * mask and predicts
every position; a vector mask only names two index sets, so its network sees just x_a and predicts
just the parameters of x_b (the same function with half the first and last layer, as zuko builds it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.core.checks import choice
from genlab.core.errors import ConfigError
from genlab.models.flow.base import Bijection, check_channels, sum_per_example, wide

NetFactory = Callable[[int, int], nn.Module]  # (inputs, outputs) -> network
Scale = Literal["sigmoid", "tanh"]  # the bounded scale of an affine coupling (see the module doc)
SCALES: tuple[str, ...] = get_args(Scale)


class AffineCoupling(Bijection):
    """Affine coupling y_b = (x_b + t(x_a)) * s(x_a), with a bounded scale s (see module doc).

    `channels` is C for (B, C, H, W) images or D for (B, D) vectors. `net_fn(n_in, n_out)` builds the
    parameter network; its output channels interleave shift (even) and raw scale (odd), as Glow's
    code does. `flip` swaps which channel half is kept (ignored with a mask: invert the mask).
    """

    additive = False

    def __init__(self, channels: int, net_fn: NetFactory, mask: Tensor | None = None,
                 flip: bool = False, scale: Scale = "sigmoid", clamp: float = 2.0):
        super().__init__()
        if not self.additive:
            choice(scale, SCALES, "coupling scale")  # for direct callers; configs check their Literal
        self.channels, self.flip, self.scale, self.clamp = channels, flip, scale, clamp
        per = 1 if self.additive else 2
        if mask is None:
            if channels < 2:
                raise ConfigError(
                    "a channel-split coupling needs at least 2 channels/features; squeeze the image "
                    "first or use a checkerboard mask"
                )
            self.n_a = (channels + 1) // 2  # the first chunk, as torch.chunk(2) would give
            n_kept, n_changed = (channels - self.n_a, self.n_a) if flip else (self.n_a, channels - self.n_a)
            self.net = net_fn(n_kept, per * n_changed)
            self.register_buffer("mask", None)
        elif mask.ndim == 1:  # a vector partition: gather x_a, scatter y_b (no zeros fed to the net)
            if mask.numel() != channels or not 0 < int(mask.sum()) < channels:
                raise ConfigError(f"a vector coupling mask needs {channels} entries with both parts "
                                  f"non-empty, got {mask.tolist()}")
            self.register_buffer("mask", mask.float())
            self.register_buffer("kept_idx", mask.bool().nonzero().flatten(), persistent=False)
            self.register_buffer("changed_idx", (~mask.bool()).nonzero().flatten(), persistent=False)
            self.net = net_fn(len(self.kept_idx), per * len(self.changed_idx))
        else:
            self.net = net_fn(channels, per * channels)
            self.register_buffer("mask", mask.float())

    # ------------------------------------------------------------------ pieces
    def _split(self, x: Tensor) -> tuple[Tensor, Tensor]:
        a, b = x[:, : self.n_a], x[:, self.n_a :]
        return (b, a) if self.flip else (a, b)

    def _merge(self, kept: Tensor, changed: Tensor) -> Tensor:
        return torch.cat((changed, kept) if self.flip else (kept, changed), 1)

    def _params(self, kept: Tensor) -> tuple[Tensor, Tensor | None]:
        """(shift, log-scale) from the kept part; log-scale None for additive coupling."""
        h = self.net(kept)
        if self.additive:
            return h, None
        shift, raw = h[:, 0::2], h[:, 1::2]
        if self.scale == "sigmoid":
            log_s = F.logsigmoid(raw + 2.0)
        else:
            log_s = self.clamp * torch.tanh(raw / self.clamp)
        return shift, log_s

    # ------------------------------------------------------------------ bijection
    def _vector(self) -> bool:
        return self.mask is not None and self.mask.ndim == 1

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        check_channels(x, self.channels, type(self).__name__)
        if self._vector():
            shift, log_s = self._params(x.index_select(1, self.kept_idx))
            changed = x.index_select(1, self.changed_idx) + shift
            if log_s is None:
                return x.index_copy(1, self.changed_idx, changed), wide(x.new_zeros(x.shape[0]))
            return x.index_copy(1, self.changed_idx, changed * torch.exp(log_s)), sum_per_example(log_s)
        if self.mask is None:
            kept, changed = self._split(x)
            shift, log_s = self._params(kept)
            changed = changed + shift
            if log_s is None:
                return self._merge(kept, changed), wide(x.new_zeros(x.shape[0]))
            y = self._merge(kept, changed * torch.exp(log_s))
            return y, sum_per_example(log_s)
        m = self.mask
        shift, log_s = self._params(x * m)
        if log_s is None:
            return x + (1 - m) * shift, wide(x.new_zeros(x.shape[0]))
        log_s = (1 - m) * log_s
        return x * m + (1 - m) * (x + shift) * torch.exp(log_s), sum_per_example(log_s)

    def inverse(self, y: Tensor) -> Tensor:
        check_channels(y, self.channels, type(self).__name__)
        if self._vector():
            shift, log_s = self._params(y.index_select(1, self.kept_idx))
            changed = y.index_select(1, self.changed_idx)
            if log_s is not None:
                changed = changed * torch.exp(-log_s)
            return y.index_copy(1, self.changed_idx, changed - shift)
        if self.mask is None:
            kept, changed = self._split(y)
            shift, log_s = self._params(kept)
            if log_s is not None:
                changed = changed * torch.exp(-log_s)
            return self._merge(kept, changed - shift)
        m = self.mask
        shift, log_s = self._params(y * m)
        if log_s is not None:
            y = y * m + (1 - m) * y * torch.exp(-(1 - m) * log_s)
        return y - (1 - m) * shift


class AdditiveCoupling(AffineCoupling):
    """NICE's additive coupling y_b = x_b + m(x_a): volume preserving (log-det 0), arXiv:1410.8516."""

    additive = True

    def __init__(self, channels: int, net_fn: NetFactory, mask: Tensor | None = None,
                 flip: bool = False):
        super().__init__(channels, net_fn, mask, flip)


class ScaleLayer(Bijection):
    """NICE's final diagonal scaling y = x * exp(s), log-det sum(s) (arXiv:1410.8516, sec. 3.3).

    Without it a stack of additive couplings has unit Jacobian and cannot contract any direction;
    exp(-s_i) acts as a learned prior standard deviation per dimension, so unimportant dimensions
    can shrink. `shape` is one example's shape. Initialised at s = 0 (identity).
    """

    def __init__(self, shape: tuple[int, ...]):
        super().__init__()
        self.log_scale = nn.Parameter(torch.zeros(shape))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if tuple(x.shape[1:]) != tuple(self.log_scale.shape):
            raise ValueError(f"ScaleLayer built for examples of shape {tuple(self.log_scale.shape)}, "
                             f"got a batch of shape {tuple(x.shape)}")
        logdet = wide(self.log_scale).sum().expand(x.shape[0])
        return x * torch.exp(self.log_scale), logdet

    def inverse(self, y: Tensor) -> Tensor:
        return y * torch.exp(-self.log_scale)
