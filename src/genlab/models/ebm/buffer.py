"""The replay buffer of Langevin chain ends that starts an EBM's next chains (persistent short-run MCMC).

Du & Mordatch 2019 (arXiv:1903.08689; official code openai/ebm_code_release) start each chain from a
past negative with probability 1 - `reinit_prob` (0.95) and from uniform noise otherwise, which keeps
samples diverse while chains stay short; https://kexue.fm/archives/6612 describes the same scheme.
Images are stored as uint8 codes of the data range (as the official code does: 4x less memory), vectors
as floats. Storage and randomness live on the CPU and come from torch's global CPU generator, which
genlab's trainer checkpoints per process, so a resumed run draws the same chains; the contents go in
the model's `extra_state`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genlab.core.checks import check_int, check_range

UINT8_MAX = 255


class ReplayBuffer:
    """A ring of at most `capacity` examples of `shape` in [low, high]; the oldest are overwritten."""

    def __init__(self, capacity: int, shape: tuple[int, ...], low: float, high: float,
                 reinit_prob: float = 0.05, store_uint8: bool = False):
        check_int("replay buffer capacity", capacity, 1)
        check_range("replay buffer reinit_prob", reinit_prob, 0.0, 1.0)
        check_range("replay buffer high", high, low, low_open=True)
        self.capacity, self.shape = capacity, tuple(shape)
        self.low, self.high = float(low), float(high)
        self.reinit_prob, self.store_uint8 = reinit_prob, store_uint8
        dtype = torch.uint8 if store_uint8 else torch.float32
        self.data = torch.empty(0, *self.shape, dtype=dtype)  # grows to `capacity`, then a ring
        self.pos = 0  # next slot to overwrite once full

    def __len__(self) -> int:
        return len(self.data)

    # ---------------------------------------------------------------- codes
    def encode(self, x: Tensor) -> Tensor:
        """Examples -> stored form (CPU): uint8 codes round((x - low) / (high - low) * 255), or float32."""
        x = x.detach().to("cpu", torch.float32)
        if not self.store_uint8:
            return x.clone()
        unit = (x - self.low) / (self.high - self.low)
        return (unit * UINT8_MAX).round().clamp(0, UINT8_MAX).to(torch.uint8)

    def decode(self, codes: Tensor) -> Tensor:
        """Stored form -> float32 examples (within (high - low) / 510 of what was pushed, for uint8)."""
        if not self.store_uint8:
            return codes.clone()
        return self.low + codes.float() / UINT8_MAX * (self.high - self.low)

    # ---------------------------------------------------------------- use
    def noise(self, n: int) -> Tensor:
        """n examples uniform in [low, high] (CPU, global generator)."""
        return self.low + (self.high - self.low) * torch.rand(n, *self.shape)

    def init_chains(self, n: int, min_size: int = 1, reinit_prob: float | None = None) -> Tensor:
        """n chain starts (CPU float32): each a random stored example, or with probability
        `reinit_prob` (default: the buffer's) fresh uniform noise; all noise while the buffer holds
        fewer than `min_size` examples. Reads only: the buffer is left unchanged."""
        p = self.reinit_prob if reinit_prob is None else reinit_prob
        x = self.noise(n)
        if len(self) >= max(min_size, 1):
            idx = torch.randint(len(self), (n,))
            keep = torch.rand(n) >= p
            x[keep] = self.decode(self.data[idx[keep]])
        return x

    def push(self, x: Tensor) -> None:
        """Store the examples x (B, *shape), overwriting the oldest once full."""
        if tuple(x.shape[1:]) != self.shape:
            raise ValueError(f"replay buffer holds examples of shape {self.shape}, got {tuple(x.shape)}")
        codes = self.encode(x)[-self.capacity:]
        free = self.capacity - len(self.data)
        if free > 0:  # still filling: append what fits
            self.data = torch.cat([self.data, codes[:free]])
            codes = codes[free:]
        if len(codes):  # full: overwrite the oldest (at most `capacity` codes are left)
            self.data[(self.pos + torch.arange(len(codes))) % self.capacity] = codes
            self.pos = (self.pos + len(codes)) % self.capacity

    # ---------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        return {"data": self.data.clone(), "pos": self.pos}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        data, pos = state["data"], int(state["pos"])
        want = torch.uint8 if self.store_uint8 else torch.float32
        if data.dtype != want or tuple(data.shape[1:]) != self.shape or len(data) > self.capacity:
            raise ValueError(f"replay buffer state holds {len(data)} x {tuple(data.shape[1:])} {data.dtype}; "
                             f"this buffer stores up to {self.capacity} x {self.shape} {want}")
        self.data, self.pos = data.detach().to("cpu").clone(), pos


__all__ = ["ReplayBuffer"]
