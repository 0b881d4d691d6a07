"""MGDA: the min-norm point of the convex hull of task gradients, a common descent direction.

Sener & Koltun, "Multi-Task Learning as Multi-Objective Optimization" (arXiv:1810.04650); dual view
and Gram-matrix Frank-Wolfe in https://kexue.fm/archives/8896 . If u = sum_i a_i g_i is that point,
<g_i, u> >= ||u||^2 for every task, so stepping along -u decreases no loss to first order; u = 0 means
the current point is Pareto-stationary.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from genlab.mtl.gradients import grad_matrix, task_gradients
from genlab.mtl.weighting import LossWeighting


def _host_gram(gram: Tensor) -> np.ndarray:
    if gram.dim() != 2 or gram.shape[0] != gram.shape[1] or gram.shape[0] == 0:
        raise ValueError(f"gram must be a square [T, T] matrix with T >= 1, got shape {tuple(gram.shape)}")
    G = gram.detach().to("cpu", torch.float64).numpy()  # T x T is tiny: solve on the host in float64
    if not np.isfinite(G).all():
        raise ValueError("gram must be finite, got nan/inf entries")
    return G


def _check_solver_args(max_iter: int, tol: float) -> None:
    if max_iter < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter}")
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol}")


def min_norm_weights(gram: Tensor, *, max_iter: int = 250, tol: float = 1e-5,
                     away_steps: bool = True) -> Tensor:
    """Simplex weights a minimising a^T G a for a Gram matrix G_ij = <g_i, g_j>.

    Two tasks: exact closed form. More: Frank-Wolfe with exact line search, started at the
    shortest gradient, stopped once the duality gap max_i (a^T G a - (G a)_i) <= tol * max_i G_ii
    (which bounds ||u||^2 - ||u*||^2 by twice that) or after `max_iter` steps. Away steps (moving
    weight off the worst active vertex) make it converge linearly where plain Frank-Wolfe zig-zags.

    Example:
        >>> g = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
        >>> min_norm_weights(g @ g.T)  # closed form for two tasks
        tensor([0.8000, 0.2000], dtype=torch.float64)
        >>> G = torch.randn(4, 6, generator=torch.Generator().manual_seed(0))
        >>> w = min_norm_weights(G @ G.T); bool((w >= 0).all()), round(float(w.sum()), 6)
        (True, 1.0)
    """
    _check_solver_args(max_iter, tol)
    G = _host_gram(gram)
    T = G.shape[0]
    if T == 1:
        a = np.ones(1)
    elif T == 2:
        # min_c ||c g1 + (1 - c) g2||^2  =>  c = <g2 - g1, g2> / ||g1 - g2||^2, clipped to [0, 1]
        denom = G[0, 0] - 2 * G[0, 1] + G[1, 1]
        c = 0.5 if denom <= 0 else min(max((G[1, 1] - G[0, 1]) / denom, 0.0), 1.0)
        a = np.array([c, 1.0 - c])
    else:
        a = _frank_wolfe(G, max_iter, tol, away_steps)
    return torch.from_numpy(a).to(gram.device)


def _frank_wolfe(G: np.ndarray, max_iter: int, tol: float, away_steps: bool) -> np.ndarray:
    T, scale = G.shape[0], G.diagonal().max()
    if scale <= 0:  # every gradient is zero: any point is optimal
        return np.full(T, 1.0 / T)
    a = np.zeros(T)
    a[G.diagonal().argmin()] = 1.0
    for _ in range(max_iter):
        Ga = G @ a
        A = a @ Ga
        s = Ga.argmin()
        fw_gap = A - Ga[s]
        if fw_gap <= tol * scale:
            break
        d, step_max, drop = -a, 1.0, None
        d[s] += 1.0
        if away_steps:
            active = np.flatnonzero(a > 0)
            v = active[Ga[active].argmax()]
            if Ga[v] - A > fw_gap and a[v] < 1:
                d, step_max, drop = a.copy(), a[v] / (1 - a[v]), v
                d[v] -= 1.0
        curvature = d @ G @ d
        step = step_max if curvature <= 0 else min(max(-(d @ Ga) / curvature, 0.0), step_max)
        a = a + step * d
        if drop is not None and step == step_max:
            a[drop] = 0.0  # remove the vertex exactly (rounding would leave ~1e-17)
        a = np.clip(a, 0.0, None)
        a /= a.sum()
    return a


def min_norm_direction(grads: Tensor | Sequence[Tensor], *, max_iter: int = 250, tol: float = 1e-5,
                       away_steps: bool = True) -> tuple[Tensor, Tensor]:
    """(u, a): the min-norm convex combination u = sum_i a_i g_i of per-task gradients ([T, P] or T x [P]).

    Example:
        >>> grads = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
        >>> u, a = min_norm_direction(grads)
        >>> u, a
        (tensor([0.8000, 0.4000]), tensor([0.8000, 0.2000]))
        >>> bool((grads @ u >= u @ u - 1e-6).all())  # -u decreases every task to first order
        True
    """
    M = grad_matrix(grads)
    M64 = M.detach().double()
    a = min_norm_weights(M64 @ M64.T, max_iter=max_iter, tol=tol, away_steps=away_steps).to(M)
    return a @ M.detach(), a


class MinNormWeighting(LossWeighting):
    """MGDA as a loss weighting: w = min-norm simplex weights of the per-task gradients.

    Example:
        >>> w = torch.tensor([1.0, 1.0], requires_grad=True)
        >>> rule = MinNormWeighting(params=[w])
        >>> loss = rule({"a": w[0] ** 2, "b": 2 * w[1] ** 2})  # gradients (2, 0) and (0, 4)
        >>> {k: round(float(v), 3) for k, v in rule.last_weights.items()}
        {'a': 0.8, 'b': 0.2}
    """

    needs_grads = True

    def __init__(self, params: Sequence[Tensor] | None = None, *, max_iter: int = 250, tol: float = 1e-5,
                 away_steps: bool = True) -> None:
        super().__init__(params)
        _check_solver_args(max_iter, tol)
        self.max_iter, self.tol, self.away_steps = max_iter, tol, away_steps

    def _weights(self, names: list[str], values: Tensor, grads: Tensor | None) -> Tensor:
        G = grads.double() @ grads.double().T
        return min_norm_weights(G, max_iter=self.max_iter, tol=self.tol, away_steps=self.away_steps)


def mgda_ub_loss(losses: Mapping[str, Tensor], features: Tensor, *, max_iter: int = 250,
                 tol: float = 1e-5) -> tuple[Tensor, dict[str, Tensor]]:
    """MGDA-UB: weights from dL_i/dZ for the shared features Z (one cheap backward to Z per task).

    Returns (sum_i sg(a_i) L_i, weights); backpropagate the loss as usual. This minimises an upper
    bound of the full objective; the paper's argument that the result still never increases a task
    does not hold in general (https://kexue.fm/archives/8896), so treat it as a cheap heuristic.
    It needs batches where samples carry labels of several tasks, else the dL_i/dZ are orthogonal.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> z = torch.nn.Linear(3, 4)(torch.randn(8, 3))  # shared features
        >>> loss, w = mgda_ub_loss({"a": z[:, 0].pow(2).mean(), "b": z[:, 1:].abs().mean()}, z)
        >>> round(sum(float(v) for v in w.values()), 6), loss.requires_grad
        (1.0, True)
    """
    if not isinstance(features, Tensor) or not features.requires_grad:
        raise ValueError("features must be the shared representation tensor, part of the losses' graph")
    rule = MinNormWeighting(max_iter=max_iter, tol=tol)
    loss = rule(losses, task_gradients(losses, [features]))
    return loss, rule.last_weights
