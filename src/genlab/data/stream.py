"""Endless, shuffled, resumable mini-batches from in-memory tensors (a labelled split gives `x` and `y`)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from genlab.core.errors import ConfigError


class BatchStream:
    """Yields batches of `data` (a tensor, or a mapping of equally long tensors such as
    {"x": images, "y": labels}, yielding mappings) in a fresh random order each epoch.

    The order of epoch e depends only on (seed, e), so the position (epoch, batch index) is the
    whole state: resuming from it reproduces the exact batch sequence. With `world > 1` each rank
    takes every world-th example of the shuffled order (as torch's DistributedSampler does), and all
    ranks see the same number of batches. The last incomplete batch of an epoch is dropped.
    """

    def __init__(self, data: Tensor | Mapping[str, Tensor], batch_size: int, seed: int = 0, rank: int = 0,
                 world: int = 1):
        self.data, self.batch_size, self.seed = data, batch_size, seed
        self.rank, self.world = rank, world
        tensors = list(data.values()) if isinstance(data, Mapping) else [data]
        if len({len(t) for t in tensors}) != 1:
            raise ValueError(f"batch tensors differ in length: {[len(t) for t in tensors]}")
        self.n = len(tensors[0])
        self.device = tensors[0].device
        self.per_rank = self.n // world
        self.batches_per_epoch = self.per_rank // batch_size
        if self.batches_per_epoch == 0:
            raise ConfigError(
                f"data.batch_size={batch_size} is larger than the {self.per_rank} training examples "
                f"per process; lower it"
            )
        self.epoch, self.index = 0, 0
        self._order: Tensor | None = None

    def _epoch_order(self) -> Tensor:
        # Generators take 64-bit seeds: wrap (a no-op for every seed below about 1.8e13).
        gen = torch.Generator().manual_seed((self.seed * 1_000_003 + self.epoch) % 2**64)
        perm = torch.randperm(self.n, generator=gen)
        return perm[self.rank :: self.world][: self.per_rank].to(self.device)

    def __iter__(self) -> BatchStream:
        return self

    def __next__(self) -> Tensor | dict[str, Tensor]:
        if self.index == self.batches_per_epoch:
            self.epoch, self.index, self._order = self.epoch + 1, 0, None
        if self._order is None:
            self._order = self._epoch_order()
        start = self.index * self.batch_size
        self.index += 1
        idx = self._order[start : start + self.batch_size]
        if isinstance(self.data, Mapping):
            return {k: v[idx] for k, v in self.data.items()}
        return self.data[idx]

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "index": self.index}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.index, self._order = int(state["epoch"]), int(state["index"]), None
