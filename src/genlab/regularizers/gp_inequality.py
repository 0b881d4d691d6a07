"""Both sides of the inequality bounding an MLP's input-gradient norm by its parameter-gradient norm.

For h^(t+1) = g_t(W_t h^(t) + b_t), t = 1..l, h^(1) = x, and f a scalar function of the output
(https://kexue.fm/archives/8796, after arXiv:2111.15090):

    ||grad_x f||^2 * sum_t (1 + ||h^(t)||^2) / (||W_t||^2 ||grad_x h^(t)||^2)  <=  ||grad_theta f||^2

with ||W_t|| and the Jacobian norm ||grad_x h^(t)|| spectral norms, theta every W_t and b_t. Per
layer it follows from grad_x f = (grad_z f) W_t (grad_x h^(t)) for z = W_t h^(t) + b_t, with
||grad_{W_t} f|| = ||grad_z f|| ||h^(t)|| and ||grad_{b_t} f|| = ||grad_z f||; the "1 +" is the bias's
share, so a layer without bias is outside the statement.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class GPInequality:
    """The two sides at one input, and each layer's term of the left-hand sum."""

    lhs: float
    rhs: float
    layer_terms: tuple[float, ...]

    def holds(self, rtol: float = 1e-9) -> bool:
        return self.lhs <= self.rhs * (1 + rtol)


def _linear_layers(mlp: nn.Sequential) -> list[int]:
    if not isinstance(mlp, nn.Sequential):
        raise TypeError(f"mlp must be an nn.Sequential of Linear layers and activations, got "
                        f"{type(mlp).__name__}")
    idx = []
    for i, m in enumerate(mlp):
        if isinstance(m, nn.Linear):
            idx.append(i)
        elif any(True for _ in m.parameters()):
            raise ValueError(f"layer {i} ({type(m).__name__}) has parameters; only nn.Linear may "
                             "(the statement covers W and b only)")
    if not idx:
        raise ValueError("mlp has no nn.Linear layer")
    return idx


def gp_inequality_sides(mlp: nn.Sequential, x: Tensor,
                        f: Callable[[Tensor], Tensor] = torch.sum) -> GPInequality:
    """Left and right side of the inequality for one unbatched input `x` of shape (D,).

    Exact: Jacobians by `torch.autograd.functional.jacobian`, spectral norms by
    `torch.linalg.matrix_norm(ord=2)`. Use float64 weights and inputs for a tight check.
    """
    linear = _linear_layers(mlp)
    if x.dim() != 1:
        raise ValueError(f"x must be one unbatched input of shape (D,), got {tuple(x.shape)}")
    x = x.detach()
    params = [p for i in linear for p in mlp[i].parameters()]
    with torch.enable_grad():
        xg = x.clone().requires_grad_(True)
        out = f(mlp(xg))
        if out.numel() != 1:
            raise ValueError(f"f must return a scalar, got shape {tuple(out.shape)}")
        grads = torch.autograd.grad(out.reshape(()), [xg, *params])
    grad_x_sq = grads[0].square().sum()
    rhs = sum(g.square().sum() for g in grads[1:])

    terms = []
    for i in linear:
        prefix = mlp[:i]  # h^(t): the input of layer i
        h = prefix(x).detach()
        jac = torch.autograd.functional.jacobian(prefix, x) if i > 0 else torch.eye(len(x), dtype=x.dtype)
        w_norm = torch.linalg.matrix_norm(mlp[i].weight.detach(), ord=2)
        j_norm = torch.linalg.matrix_norm(jac.reshape(len(h), len(x)), ord=2)
        terms.append(float((1 + h.square().sum()) / (w_norm ** 2 * j_norm ** 2)))
    return GPInequality(float(grad_x_sq * sum(terms)), float(rhs), tuple(terms))
