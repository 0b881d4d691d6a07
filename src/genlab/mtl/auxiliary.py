"""Primary/auxiliary direction: follow the primary loss, but never increase an auxiliary one.

https://kexue.fm/archives/8907 : max_u <u, g_0> - ||u||^2 / 2 subject to <u, g_i> >= 0 (i >= 1) has the
dual min_{lam >= 0} ||g_0 + sum_i lam_i g_i||^2 with u = g_0 + sum_i lam_i g_i, i.e. the projection of
g_0 onto the cone {u : <u, g_i> >= 0}. One auxiliary task: lam = relu(-<g_0, g_1>) / ||g_1||^2.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from genlab.mtl.gradients import grad_matrix
from genlab.mtl.mgda import _check_solver_args, _host_gram
from genlab.mtl.weighting import LossWeighting


def primary_aux_weights(gram: Tensor, *, max_iter: int = 1000, tol: float = 1e-10) -> Tensor:
    """Weights [1, lam_1, ..., lam_n] for a Gram matrix whose row/column 0 is the primary task.

    n = 1 is the closed form; otherwise cyclic projected coordinate descent on the dual (Hildreth).
    The article picks the coordinate with the smallest <g_i, u>, which can stall at a non-optimal
    point; cyclic sweeps do not. Stops when the KKT violation is <= tol * max_i G_ii or after
    `max_iter` sweeps.

    Example:
        >>> g = torch.tensor([[1.0, 0.0], [-1.0, 1.0]])  # the auxiliary task (row 1) conflicts
        >>> primary_aux_weights(g @ g.T)
        tensor([1.0000, 0.5000], dtype=torch.float64)
    """
    _check_solver_args(max_iter, tol)
    G = _host_gram(gram)
    n = G.shape[0] - 1
    lam = np.zeros(n)
    aux, cross, diag = G[1:, 1:], G[1:, 0], G.diagonal()[1:]
    if n == 1 and diag[0] > 0:
        lam[0] = max(-cross[0], 0.0) / diag[0]
    elif n > 1:
        scale = G.diagonal().max()
        for _ in range(max_iter):
            for i in range(n):
                if diag[i] > 0:  # a zero auxiliary gradient constrains nothing: keep lam_i = 0
                    slope = cross[i] + aux[i] @ lam  # = <g_i, u>
                    lam[i] = max(lam[i] - slope / diag[i], 0.0)
            slopes = cross + aux @ lam
            violation = np.where(lam > 0, np.abs(slopes), np.clip(-slopes, 0.0, None))
            if violation.max() <= tol * scale:
                break
    return torch.from_numpy(np.r_[1.0, lam]).to(gram.device)


def primary_aux_direction(grads: Tensor | Sequence[Tensor], *, max_iter: int = 1000, tol: float = 1e-10
                          ) -> tuple[Tensor, Tensor]:
    """(u, w) with u = sum_i w_i g_i; row 0 of `grads` is the primary task, w_0 = 1.

    Example:
        >>> grads = torch.tensor([[1.0, 0.0], [-1.0, 1.0]])
        >>> u, w = primary_aux_direction(grads)
        >>> u, float(u @ grads[1])  # the auxiliary loss no longer increases along -u
        (tensor([0.5000, 0.5000]), 0.0)
    """
    M = grad_matrix(grads)
    M64 = M.detach().double()
    w = primary_aux_weights(M64 @ M64.T, max_iter=max_iter, tol=tol).to(M)
    return w @ M.detach(), w


class PrimaryAuxWeighting(LossWeighting):
    """The primary/auxiliary rule as a loss weighting: weight 1 on `primary`, lam_i >= 0 on the others.

    Example:
        >>> p = torch.tensor([1.0, 1.0], requires_grad=True)
        >>> rule = PrimaryAuxWeighting("main", params=[p])
        >>> loss = rule({"main": p[0], "aux": p[1] - p[0]})  # gradients (1, 0) and (-1, 1)
        >>> {k: float(v) for k, v in rule.last_weights.items()}
        {'main': 1.0, 'aux': 0.5}
    """

    needs_grads = True

    def __init__(self, primary: str, params: Sequence[Tensor] | None = None, *, max_iter: int = 1000,
                 tol: float = 1e-10) -> None:
        super().__init__(params)
        _check_solver_args(max_iter, tol)
        self.primary, self.max_iter, self.tol = primary, max_iter, tol

    def _weights(self, names: list[str], values: Tensor, grads: Tensor | None) -> Tensor:
        if self.primary not in names:
            raise ValueError(f"primary task {self.primary!r} is not among the losses {names}")
        p = names.index(self.primary)
        order = [p] + [i for i in range(len(names)) if i != p]
        M = grads[order].double()
        w = primary_aux_weights(M @ M.T, max_iter=self.max_iter, tol=self.tol)
        out = torch.empty_like(w)
        out[order] = w
        return out
