"""Activation normalisation with data-dependent initialisation (Glow, arXiv:1807.03039, sec. 3.1).

A per-channel affine map y = (x + b) * exp(log_s), log-det = (H*W) * sum(log_s). On the first
training batch b and log_s are set so that the output has zero mean and unit variance per channel;
afterwards they are ordinary parameters. Glow introduced it as a batch-size-independent substitute
for batch normalisation, and it is what makes deep flows start training without blowing up.

The "initialised" flag is a registered buffer, so it travels with `state_dict()`: a checkpoint
restored on resume keeps its trained values instead of being re-initialised from the next batch.
`forward` reads a Python mirror of it, so a step neither syncs with the device nor breaks a
`torch.compile` graph to test a tensor.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor, nn

from genlab.models.flow.base import Bijection, check_channels, wide


class ActNorm(Bijection):
    """Per-channel scale and shift; data-dependent init on the first batch seen in training mode.

    Works on (B, C) vectors and (B, C, H, W) images. Before initialisation (e.g. a model that is
    evaluated without ever training) it is the identity. Under torch.distributed the initial
    statistics are averaged over processes so every replica starts from the same values.
    """

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.channels, self.eps = channels, eps
        self.bias = nn.Parameter(torch.zeros(channels))
        self.log_scale = nn.Parameter(torch.zeros(channels))
        self.register_buffer("initialized", torch.tensor(False))
        self._ready = False  # mirrors `initialized`; updated by initialize() and state-dict loads

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._ready = bool(self.initialized)

    def _view(self, t: Tensor, x: Tensor) -> Tensor:
        return t.view(1, -1, *([1] * (x.dim() - 2)))

    @torch.no_grad()
    def initialize(self, x: Tensor) -> None:
        """Set bias and log-scale from the batch x: per-channel zero mean, unit variance output."""
        dims = [d for d in range(x.dim()) if d != 1]
        stats = torch.stack([x.float().mean(dims), (x.float() ** 2).mean(dims)])
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(stats)
            stats /= dist.get_world_size()
        mean, sq = stats
        std = (sq - mean**2).clamp_min(0).sqrt()
        self.bias.copy_(-mean)
        self.log_scale.copy_(-torch.log(std + self.eps))
        self.initialized.fill_(True)
        self._ready = True

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        check_channels(x, self.channels, "ActNorm")
        if self.training and not self._ready:
            if bool(self.initialized):  # set by hand: read the buffer once, then trust the mirror
                self._ready = True
            else:
                self.initialize(x)
        y = (x + self._view(self.bias, x)) * torch.exp(self._view(self.log_scale, x))
        spatial = x[0, 0].numel()
        logdet = (spatial * wide(self.log_scale).sum()).expand(x.shape[0])
        return y, logdet

    def inverse(self, y: Tensor) -> Tensor:
        check_channels(y, self.channels, "ActNorm")
        return y * torch.exp(-self._view(self.log_scale, y)) - self._view(self.bias, y)
