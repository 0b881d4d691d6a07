"""Endless, shuffled, resumable mini-batches from an in-memory tensor."""

from __future__ import annotations

import torch
from torch import Tensor

from genlab.core.errors import ConfigError


class BatchStream:
    """Yields batches of `data` in a fresh random order each epoch.

    The order of epoch e depends only on (seed, e), so the position (epoch, batch index) is the
    whole state: resuming from it reproduces the exact batch sequence. With `world > 1` each rank
    takes every world-th example of the shuffled order (as torch's DistributedSampler does), and all
    ranks see the same number of batches. The last incomplete batch of an epoch is dropped.
    """

    def __init__(self, data: Tensor, batch_size: int, seed: int = 0, rank: int = 0, world: int = 1):
        self.data, self.batch_size, self.seed = data, batch_size, seed
        self.rank, self.world = rank, world
        self.per_rank = len(data) // world
        self.batches_per_epoch = self.per_rank // batch_size
        if self.batches_per_epoch == 0:
            raise ConfigError(
                f"data.batch_size={batch_size} is larger than the {self.per_rank} training examples "
                f"per process; lower it"
            )
        self.epoch, self.index = 0, 0
        self._order: Tensor | None = None

    def _epoch_order(self) -> Tensor:
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        perm = torch.randperm(len(self.data), generator=gen)
        return perm[self.rank :: self.world][: self.per_rank].to(self.data.device)

    def __iter__(self) -> BatchStream:
        return self

    def __next__(self) -> Tensor:
        if self.index == self.batches_per_epoch:
            self.epoch, self.index, self._order = self.epoch + 1, 0, None
        if self._order is None:
            self._order = self._epoch_order()
        start = self.index * self.batch_size
        self.index += 1
        return self.data[self._order[start : start + self.batch_size]]

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "index": self.index}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.index, self._order = int(state["epoch"]), int(state["index"]), None
