"""Lookahead: k fast steps of any optimizer, then one interpolation step of slow weights.

Zhang, Lucas, Hinton, Ba, "Lookahead Optimizer: k steps forward, 1 step back", arXiv:1907.08610;
https://kexue.fm/archives/6869 and https://kexue.fm/archives/7094.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch.optim import Optimizer

from genlab.optim.wrapper import Closure, OptimizerWrapper, by_device_and_dtype


class Lookahead(OptimizerWrapper):
    """After every k base steps: slow <- slow + alpha * (fast - slow), then fast <- slow.

    Slow weights start as a copy of the initial parameters (a zero start would shrink the weights by
    alpha at the first sync). The parameters always hold the fast weights. The base optimizer's own
    state (momentum, moments) is left as it is at a sync.

    Interplay with the rest of a training loop:
    - LR schedulers: `param_groups` is the base's list, so a scheduler built on either object changes
      the learning rate of the inner (fast) optimizer; Lookahead itself has no learning rate.
    - EMA of weights: update it from the parameters after each `step()`, i.e. it averages the fast
      weights (which equal the slow ones right after a sync); it needs no access to the slow copy.
    - `torch.amp.GradScaler`: `scaler.step(lookahead)` unscales the shared groups and calls `step()`,
      which delegates to the base; a step skipped for inf/nan gradients does not advance the k-counter.

    Example:
        SGD on L = w^2 (each step multiplies w by 0.8), synced every k = 2 steps with alpha = 0.5:

        >>> w = torch.tensor([1.0], requires_grad=True)
        >>> opt = Lookahead(torch.optim.SGD([w], lr=0.1), k=2, alpha=0.5)
        >>> for _ in range(2):
        ...     opt.zero_grad(); (w**2).sum().backward(); opt.step()
        >>> round(w.item(), 4)  # slow: 1 + 0.5 * (0.64 - 1)
        0.82
    """

    def __init__(self, base: Optimizer, k: int = 5, alpha: float = 0.5) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be an integer >= 1, got {k!r}")
        if not 0.0 <= float(alpha) <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
        super().__init__(base)
        self.k, self.alpha = k, float(alpha)
        self.fast_steps = 0
        for group in self.param_groups:
            self._init_group(group)

    def _init_group(self, group: dict[str, Any]) -> None:
        for p in group["params"]:
            if "slow" not in self.state[p]:
                self.state[p]["slow"] = p.detach().clone()

    def _extra_state(self) -> dict[str, Any]:
        return {"k": self.k, "alpha": self.alpha, "fast_steps": self.fast_steps}

    def _load_extra_state(self, extra: dict[str, Any]) -> None:
        self.k, self.alpha, self.fast_steps = int(extra["k"]), float(extra["alpha"]), int(extra["fast_steps"])

    def step(self, closure: Closure | None = None) -> Any:
        loss = self.base.step() if closure is None else self.base.step(closure)
        self.fast_steps += 1
        if self.fast_steps % self.k == 0:
            self.sync()
        return loss

    @torch.no_grad()
    def sync(self) -> None:
        """Move the slow weights alpha of the way to the fast ones and restart the fast weights there."""
        for params in by_device_and_dtype(self._params()):
            slow = [self.state[p]["slow"] for p in params]
            torch._foreach_lerp_(params, slow, 1.0 - self.alpha)
            torch._foreach_copy_(slow, params)

    @contextmanager
    @torch.no_grad()
    def slow_weights(self) -> Iterator[None]:
        """Temporarily load the slow weights into the parameters (e.g. to evaluate them)."""
        params = self._params()
        fast = [p.detach().clone() for p in params]
        for p in params:
            p.copy_(self.state[p]["slow"])
        try:
            yield
        finally:
            torch._foreach_copy_(params, fast)
