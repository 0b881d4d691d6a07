"""Data-parallel training across processes started by `torchrun` (gloo on CPU, nccl on CUDA).

DistributedDataParallel ties gradient synchronisation to `module.forward()`, but a genlab step may
run several updates of different parameter groups (a GAN's critic and generator steps) inside
`train_step`. So genlab does what DDP's reducer does, explicitly, once per update: broadcast rank
0's weights at the start, and average each update's gradients across ranks (one flat all-reduce)
before the optimizer step. Every rank then applies the same update and the replicas stay identical.

Teardown matters. If a process reaches interpreter finalisation with the gloo group alive, a gloo
worker thread may still be releasing the last collective's buffers; their Python objects need the
GIL, the finalising interpreter ends that thread, and the process aborts (SIGABRT, "terminate
called without an active exception"; pytorch/pytorch#190489). So the group genlab creates is
destroyed, which joins those threads, by `close()`: `Trainer.close()` calls it and an `atexit`
hook covers every other way out (exceptions, the NaN guard, interrupts).

Destroying is only effective if nothing else holds the group. Some torch modules bind
`group.WORLD` as a default argument when first imported (`torch.distributed.nn.functional`,
pulled in by `torch._dynamo`, which the first `torch.optim` optimizer imports); imported after
the group exists, they keep it alive forever. So they are imported before it is created.
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn


@dataclass
class DistEnv:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    owns_group: bool = False  # genlab created the process group, so genlab destroys it
    _control: object = None  # a CPU (gloo) group for small control messages when NCCL runs the rest

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
        owns = not dist.is_initialized()
        if owns:
            import torch._dynamo  # noqa: F401  (see the module docstring: before the group exists)

            dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
        control = dist.new_group(backend="gloo") if dist.get_backend() != "gloo" else None
        env = cls(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")),
                  owns, control)
        if owns:
            atexit.register(env.close)
        return env

    def close(self) -> None:
        """Destroy the process group genlab created (idempotent; a group the caller made is theirs)."""
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()
        self.owns_group = False

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

    def max_over_ranks(self, value: int) -> int:
        """The largest of every rank's `value` (a CPU collective: no device sync per call)."""
        if not self.enabled:
            return value
        t = torch.tensor([value], dtype=torch.int64)
        dist.all_reduce(t, op=dist.ReduceOp.MAX, group=self._control)
        return int(t)

    def all_reduce_mean(self, t: Tensor) -> Tensor:
        """`t` averaged over ranks, in place (returned for chaining; identity when alone)."""
        if self.enabled:
            dist.all_reduce(t)
            t /= self.world
        return t

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
