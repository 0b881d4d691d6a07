"""Lazy rows: embedding rows absent from the batch are neither moved nor have their state advanced.

https://kexue.fm/archives/6869 (LazyOptimizer) and https://kexue.fm/archives/7094 (derivation 6).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch.optim import Optimizer

from genlab.optim.wrapper import Closure, OptimizerWrapper


class LazyRows(OptimizerWrapper):
    """Restore, after the base step, every row (index along dim 0) whose gradient is zero this step.

    A row counts as touched when any entry of its dense gradient is non-zero, or when its index is
    present in a sparse gradient (`nn.Embedding(sparse=True)`; the sparse gradient is densified for
    the base step and put back afterwards). With `freeze_state=True` the base's state tensors shaped
    like the parameter (momentum, Adam moments) are restored too, so an untouched row is bit-identical
    after a step; per-tensor scalars such as Adam's step count still advance (as in `SparseAdam`).
    `freeze_state=False` is the article's variant: only the parameter step is masked.

    `params` selects the tensors treated lazily (default: all). The mask is read from the gradient the
    base sees, so under data parallelism (gradients all-reduced before `step()`) a row touched on any
    rank is updated on all ranks. Coupled L2 in the base makes every gradient row non-zero (use
    `DecoupledWeightDecay` outside this wrapper to decay all rows, inside it to decay touched rows only).
    Memory: one copy of each lazy tensor and of its row-shaped state during the step.

    Example:
        >>> emb = torch.nn.Embedding(4, 2)
        >>> opt = LazyRows(torch.optim.Adam(emb.parameters(), lr=0.1))
        >>> emb(torch.tensor([1])).sum().backward(); opt.step(); opt.zero_grad()
        >>> before = emb.weight.detach().clone()
        >>> emb(torch.tensor([2])).sum().backward(); opt.step()
        >>> (emb.weight != before).any(dim=1)  # plain Adam would move row 1 too (momentum)
        tensor([False, False,  True, False])
    """

    def __init__(self, base: Optimizer, params: Iterable[torch.Tensor] | None = None,
                 freeze_state: bool = True) -> None:
        super().__init__(base)
        known = {id(p) for p in self._params()}
        if params is None:
            self.lazy_ids = set(known)
        else:
            self.lazy_ids = {id(p) for p in params}
            if not self.lazy_ids <= known:
                raise ValueError("params must be parameters of the base optimizer")
        self.freeze_state = bool(freeze_state)

    def _extra_state(self) -> dict[str, Any]:
        return {"freeze_state": self.freeze_state}

    def _load_extra_state(self, extra: dict[str, Any]) -> None:
        self.freeze_state = bool(extra["freeze_state"])

    def step(self, closure: Closure | None = None) -> Any:
        saved: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict[str, torch.Tensor], Any]] = []

        def snapshot() -> None:
            for p in self._params():
                if id(p) not in self.lazy_ids or p.grad is None or p.ndim == 0:
                    continue
                touched, sparse = _touched_rows(p)
                keep = (~touched).reshape((-1,) + (1,) * (p.ndim - 1))
                state = self.base.state.get(p, {}) if self.freeze_state else {}
                rows = {k: v.clone() for k, v in state.items() if torch.is_tensor(v) and v.shape == p.shape}
                saved.append((p, keep, p.detach().clone(), rows, sparse))

        loss = self._step_base(closure, snapshot)
        with torch.no_grad():
            for p, keep, old, rows, sparse in saved:
                p.copy_(torch.where(keep, old, p))
                state = self.base.state[p]
                for k, v in rows.items():
                    state[k].copy_(torch.where(keep, v, state[k]))
                if sparse is not None:
                    p.grad = sparse
        return loss


def _touched_rows(p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Boolean mask of touched rows; densifies a sparse gradient in place and returns the original."""
    g = p.grad
    if g.is_sparse:
        g = g.coalesce()
        touched = torch.zeros(p.shape[0], dtype=torch.bool, device=p.device)
        touched[g.indices()[0]] = True
        p.grad = g.to_dense()
        return touched, g
    return g.reshape(g.shape[0], -1).ne(0).any(dim=1), None
