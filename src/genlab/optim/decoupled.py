"""Decoupled weight decay around any optimizer.

Loshchilov & Hutter, "Decoupled Weight Decay Regularization", arXiv:1711.05101;
https://kexue.fm/archives/7094 (derivation 1).
"""

from __future__ import annotations

from typing import Any

import torch
from torch.optim import Optimizer

from genlab.optim.wrapper import Closure, OptimizerWrapper, ParamFilter


class DecoupledWeightDecay(OptimizerWrapper):
    """p <- p - lr * weight_decay * p, separately from the base update, with the group's current lr.

    The decay is applied once the gradient has been evaluated and before the base moves the
    parameter, as `torch.optim.AdamW` does, so wrapping `Adam` reproduces `AdamW`. Only parameters
    that have a gradient are decayed; `exclude(p) -> True` skips a parameter (e.g. `is_vector_like`
    for biases and norm gains). Keep the base's own (coupled, L2) `weight_decay` at 0.

    Example:
        Wrapping Adam reproduces AdamW:

        >>> a = torch.tensor([1.0, -2.0], requires_grad=True)
        >>> b = a.detach().clone().requires_grad_()
        >>> opt_a = DecoupledWeightDecay(torch.optim.Adam([a], lr=0.1), weight_decay=0.5)
        >>> opt_b = torch.optim.AdamW([b], lr=0.1, weight_decay=0.5)
        >>> for p, opt in ((a, opt_a), (b, opt_b)):
        ...     (p**2).sum().backward(); opt.step()
        >>> torch.allclose(a, b)
        True
    """

    def __init__(self, base: Optimizer, weight_decay: float = 1e-2,
                 exclude: ParamFilter | None = None) -> None:
        if not float(weight_decay) >= 0.0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
        super().__init__(base)
        self.weight_decay = float(weight_decay)
        self.exclude = exclude

    def _extra_state(self) -> dict[str, Any]:
        return {"weight_decay": self.weight_decay}

    def _load_extra_state(self, extra: dict[str, Any]) -> None:
        self.weight_decay = float(extra["weight_decay"])

    def _decay(self) -> None:
        if self.weight_decay == 0.0:
            return
        for group in self.param_groups:
            decayed = [p for p in group["params"]
                       if p.grad is not None and not (self.exclude is not None and self.exclude(p))]
            if decayed:
                torch._foreach_mul_(decayed, 1.0 - group["lr"] * self.weight_decay)

    def step(self, closure: Closure | None = None) -> Any:
        return self._step_base(closure, self._decay)

