"""Per-task flat gradients: the [T, P] matrix the gradient-direction solvers work on.

Under DistributedDataParallel, `torch.autograd.grad` bypasses the gradient all-reduce hooks, so
all-reduce the returned matrix (or its Gram matrix) yourself before solving. genlab's trainer builds
the matrix of a multi-loss `Update` with `task_gradients` too (summed over micro-batches, then
all-reduced).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from genlab.mtl.losses import check_losses


def task_gradients(losses: Mapping[str, Tensor], params: Sequence[Tensor], *,
                   retain_graph: bool = True) -> Tensor:
    """Row i = flattened dL_i/d(params); a parameter that L_i does not reach contributes zeros.

    The graph is kept by default so the caller can still backpropagate the weighted loss;
    `retain_graph=False` frees it with the last loss's gradient (it is kept between the losses,
    which usually share it).

    Example:
        >>> w = torch.tensor([1.0, 2.0], requires_grad=True)
        >>> task_gradients({"square": (w**2).sum(), "sum": w.sum()}, [w])
        tensor([[2., 4.],
                [1., 1.]])
    """
    check_losses(losses)
    params = list(params)
    if not params:
        raise ValueError("params must hold at least one tensor that requires grad, got none")
    rows = []
    last = len(losses) - 1
    for i, loss in enumerate(losses.values()):
        grads = torch.autograd.grad(loss, params, retain_graph=retain_graph or i < last, allow_unused=True)
        rows.append(torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1)
                               for p, g in zip(params, grads)]))
    return torch.stack(rows)


def grad_matrix(grads: Tensor | Sequence[Tensor], n_tasks: int | None = None) -> Tensor:
    """Accept a [T, P] tensor or a list of T flat [P] tensors; return the [T, P] matrix.

    Example:
        >>> grad_matrix([torch.ones(3), torch.zeros(3)], n_tasks=2)
        tensor([[1., 1., 1.],
                [0., 0., 0.]])
    """
    if isinstance(grads, Tensor):
        if grads.dim() != 2 or grads.shape[0] == 0:
            raise ValueError(f"grads must be a [T, P] matrix with T >= 1, got shape {tuple(grads.shape)}")
        matrix = grads
    else:
        grads = list(grads)
        if not grads:
            raise ValueError("grads must hold at least one per-task gradient, got none")
        shapes = {tuple(g.shape) for g in grads}
        if len(shapes) != 1 or len(next(iter(shapes))) != 1:
            raise ValueError(f"grads must be flat [P] tensors of one length, got shapes {sorted(shapes)}")
        matrix = torch.stack(grads)
    if n_tasks is not None and matrix.shape[0] != n_tasks:
        raise ValueError(f"grads must have one row per loss ({n_tasks}), got {matrix.shape[0]}")
    return matrix


def write_flat_grad(params: Sequence[Tensor], flat: Tensor, *, copy: bool = True) -> None:
    """Store a flat direction (e.g. a solver's output) into `p.grad`, replacing what was there.

    `copy=False` makes each gradient a view of `flat` where dtype and device already match (no
    allocation; `flat` must then not be modified while the gradients are in use).

    Example:
        >>> w, b = torch.zeros(2, 2, requires_grad=True), torch.zeros(1, requires_grad=True)
        >>> write_flat_grad([w, b], torch.arange(5.0))
        >>> w.grad, b.grad
        (tensor([[0., 1.], [2., 3.]]), tensor([4.]))
    """
    params = list(params)
    total = sum(p.numel() for p in params)
    if flat.dim() != 1 or flat.numel() != total:
        raise ValueError(f"flat must be a [P] vector with P = {total} (total parameter size), "
                         f"got shape {tuple(flat.shape)}")
    for p, chunk in zip(params, flat.split([p.numel() for p in params])):
        p.grad = chunk.reshape(p.shape).to(device=p.device, dtype=p.dtype, copy=copy)
