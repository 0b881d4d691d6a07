"""Data-parallel training across processes started by `torchrun` (gloo on CPU, nccl on CUDA).

DistributedDataParallel ties gradient synchronisation to `module.forward()`, but a genlab step may
run several updates of different parameter groups (a GAN's critic and generator steps) inside
`train_step`. So genlab does what DDP's reducer does, explicitly, once per update: broadcast rank
0's weights at the start, and average each update's gradients across ranks (one flat all-reduce)
before the optimizer step. Every rank then applies the same update and the replicas stay identical.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass
class DistEnv:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls, device_type: str) -> DistEnv:
        """Join the process group torchrun describes in the environment (no-op when alone)."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
        return cls(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))

    def broadcast_module(self, module: nn.Module) -> None:
        if self.enabled:
            for t in list(module.parameters()) + list(module.buffers()):
                dist.broadcast(t.data, src=0)

    def average_gradients(self, params: list[nn.Parameter]) -> None:
        """Average .grad over ranks in one collective (missing gradients count as zeros)."""
        if not self.enabled or not params:
            return
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.world
        offset = 0
        for p, g in zip(params, grads):
            p.grad = flat[offset : offset + g.numel()].view_as(g)
            offset += g.numel()

    def gather(self, obj):
        """All ranks' `obj` as a list (on every rank)."""
        if not self.enabled:
            return [obj]
        out = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()
