"""A fixed ill-conditioned quadratic L(x) = 1/2 x'Ax - b'x with its gradient and exact gradient flow."""

from __future__ import annotations

import torch

A = torch.tensor([[3.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 0.1]], dtype=torch.float64)
B = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
X0 = torch.tensor([2.0, 1.0, -3.0], dtype=torch.float64)


def grad(x: torch.Tensor) -> torch.Tensor:
    return A @ x - B


def loss(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * x @ A @ x - B @ x


def flow(t: float) -> torch.Tensor:
    """Exact solution of dx/dt = -grad L(x) from X0: x* + exp(-A t) (X0 - x*)."""
    x_star = torch.linalg.solve(A, B)
    return x_star + torch.linalg.matrix_exp(-A * t) @ (X0 - x_star)


def param_and_closure(opt_factory):
    """A parameter at X0, an optimizer built on it, and a closure computing the quadratic's gradient."""
    x = torch.nn.Parameter(X0.clone())
    opt = opt_factory([x])

    def closure() -> torch.Tensor:
        opt.zero_grad()
        value = loss(x)
        value.backward()
        return value

    return x, opt, closure
