"""Layer-wise adaptation: rescale the base optimizer's update of each tensor by a trust ratio.

You et al., "Large Batch Optimization for Deep Learning: Training BERT in 76 minutes" (LAMB),
arXiv:1904.00962; https://kexue.fm/archives/7094 (derivation 2).
"""

from __future__ import annotations

from typing import Any

import torch
from torch.optim import Optimizer

from genlab.optim.wrapper import (
    Closure,
    OptimizerWrapper,
    ParamFilter,
    by_device_and_dtype,
    is_vector_like,
    scratch_like,
)


class LayerwiseAdaptation(OptimizerWrapper):
    """Replace the base update d = p_new - p of each tensor by r * d, r = ||p|| / (||d|| / lr + eps).

    The update d is whatever the base did (including decoupled decay when that wrapper sits inside),
    so the step length of each tensor becomes lr * ||p||: LAMB with an Adam base, a LARS-like rule with
    an SGD base (LARS proper rescales the gradient before momentum). r = 1 when ||p|| or ||d|| is 0.
    `max_weight_norm` clamps ||p|| from above (pytorch_optimizer's LAMB uses 10). Tensors for which
    `exclude(p)` is true (by default 1-D ones: biases, norm gains) keep the plain base update.
    The update is read back as a difference, so in float32 it carries a rounding error of about
    ulp(p) / ||d|| relative; use float64 to compare against a fused implementation tightly.
    Cost: the base step plus about five passes over the adapted tensors (batched `torch._foreach_*`
    calls), and memory for one copy of them, kept between steps so that no step allocates it.

    Example:
        The step length becomes lr * ||w|| (here 0.1 * 5) whatever the gradient's size:

        >>> w = torch.tensor([[3.0, 4.0]], requires_grad=True)
        >>> opt = LayerwiseAdaptation(torch.optim.SGD([w], lr=0.1))
        >>> (w * torch.tensor([[0.01, 0.0]])).sum().backward(); opt.step()
        >>> w.detach()
        tensor([[2.5000, 4.0000]])
    """

    def __init__(self, base: Optimizer, exclude: ParamFilter | None = is_vector_like,
                 max_weight_norm: float | None = None, eps: float = 0.0) -> None:
        if max_weight_norm is not None and not float(max_weight_norm) > 0.0:
            raise ValueError(f"max_weight_norm must be > 0 or None, got {max_weight_norm!r}")
        if not float(eps) >= 0.0:
            raise ValueError(f"eps must be >= 0, got {eps!r}")
        super().__init__(base)
        self.exclude, self.max_weight_norm, self.eps = exclude, max_weight_norm, float(eps)

    def _extra_state(self) -> dict[str, Any]:
        return {"max_weight_norm": self.max_weight_norm, "eps": self.eps}

    def _load_extra_state(self, extra: dict[str, Any]) -> None:
        self.max_weight_norm, self.eps = extra["max_weight_norm"], float(extra["eps"])

    def _adapted(self) -> list[torch.Tensor]:
        return [p for p in self._params()
                if p.grad is not None and not (self.exclude is not None and self.exclude(p))]

    def step(self, closure: Closure | None = None) -> Any:
        batches: list[tuple[list[torch.Tensor], list[torch.Tensor], torch.Tensor]] = []

        def snapshot() -> None:
            for params in by_device_and_dtype(self._adapted()):
                olds = [scratch_like(self, p) for p in params]  # p before the base step
                norms = torch.stack(torch._foreach_norm(params))
                torch._foreach_copy_(olds, params)
                batches.append((params, olds, norms))

        loss = self._step_base(closure, snapshot)
        lrs = {p: group["lr"] for group in self.param_groups for p in group["params"]}
        with torch.no_grad():
            for params, olds, w in batches:
                if self.max_weight_norm is not None:
                    w = w.clamp(max=self.max_weight_norm)
                torch._foreach_sub_(olds, params)  # olds now hold -d, d = p_new - p_old the base update
                d = torch.stack(torch._foreach_norm(olds))
                lr = torch.tensor([lrs[p] for p in params], dtype=w.dtype, device=w.device)
                # r = w / (d / lr + eps), written without dividing by lr (lr may be 0).
                ratio = torch.where((w > 0) & (d > 0), w * lr / (d + self.eps * lr), 1.0)
                # p_old + r d = p_new + (1 - r) (p_old - p_new): one pass, no temporary tensor
                torch._foreach_addcmul_(params, olds, list((1.0 - ratio).unbind()))
        return loss
