"""Heun's method on the gradient flow: a predictor-corrector optimizer with two gradients per step.

https://kexue.fm/archives/5879 (the "intrusive" two-gradient optimizer; the article finds it overfits
easily); the ODE view of https://kexue.fm/archives/5655.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch.optim import Optimizer

from genlab.optim.wrapper import Closure, by_device_and_dtype, scratch_like


class Heun(Optimizer):
    """p~ = p - lr * g(p);  p <- p - lr/2 * (g(p) + g(p~)): second order in lr on dp/dt = -grad L.

    `step(closure)` needs a closure, as LBFGS does, that zeroes the gradients, recomputes the loss and
    calls `backward()`; it is evaluated at p and at p~ and the loss at p is returned. Afterwards
    `.grad` holds g(p~). A parameter without a gradient at p~ is treated as having a zero one there.
    Cost: three passes over the parameters besides the two closures (p - lr/2 g(p) into a buffer, the
    predictor, the corrector from the buffer), and memory for that buffer, kept between steps.

    Example:
        One step on L = w^2 / 2 (gradient flow w(t) = exp(-t)) gives 1 - lr + lr^2 / 2:

        >>> w = torch.tensor([1.0], requires_grad=True)
        >>> opt = Heun([w], lr=0.1)
        >>> def closure():
        ...     opt.zero_grad(); loss = (w**2).sum() / 2; loss.backward(); return loss
        >>> opt.step(closure).item(), round(w.item(), 6)  # the loss at the start; exp(-0.1) = 0.904837
        (0.5, 0.905)
    """

    def __init__(self, params: Iterable[torch.Tensor] | Iterable[dict[str, Any]], lr: float = 1e-2) -> None:
        if not float(lr) >= 0.0:
            raise ValueError(f"lr must be >= 0, got {lr!r}")
        super().__init__(params, {"lr": lr})

    def step(self, closure: Closure | None = None) -> Any:  # type: ignore[override]
        if closure is None:
            raise TypeError("Heun.step needs a closure that re-evaluates the loss and its gradients")
        with torch.enable_grad():
            loss = closure()
        first: list[tuple[torch.Tensor, torch.Tensor, float]] = []  # (p, p - lr/2 g(p), lr)
        with torch.no_grad():
            for group in self.param_groups:
                lr = group["lr"]
                params = [p for p in group["params"] if p.grad is not None]
                for p in params:
                    half = scratch_like(self, p)
                    torch.add(p, p.grad, alpha=-0.5 * lr, out=half)
                    first.append((p, half, lr))
                for batch in by_device_and_dtype(params):
                    torch._foreach_add_(batch, [p.grad for p in batch], alpha=-lr)  # the predictor p~
        with torch.enable_grad():
            closure()
        with torch.no_grad():
            for p, half, lr in first:
                if p.grad is None:
                    p.copy_(half)
                else:
                    torch.add(half, p.grad, alpha=-0.5 * lr, out=p)  # p - lr/2 g(p) - lr/2 g(p~)
        return loss
