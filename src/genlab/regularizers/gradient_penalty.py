"""Penalties on the gradient of a loss w.r.t. its inputs or its parameters.

A parameter-gradient penalty w * ||grad_theta L||^2 is what gradient descent with learning rate lr
adds implicitly to first order with w = lr / 4 (Barrett & Dherin, "Implicit Gradient
Regularization", arXiv:2009.11162; https://kexue.fm/archives/7787); by the inequality of
`gp_inequality` it also bounds the input-gradient norm (https://kexue.fm/archives/8796).
The input-gradient penalty is the smoothness (Dirichlet energy) term it implies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from genlab.core.checks import check_range

_TINY = 1e-12  # inside square roots: keeps the norm differentiable where the gradient vanishes


def _params(params: Sequence[Tensor]) -> list[Tensor]:
    params = [p for p in params if p.requires_grad]
    if not params:
        raise ValueError("params must hold at least one tensor that requires grad, got none")
    return params


def _squared_norm(grads: Sequence[Tensor | None]) -> Tensor:
    return sum(g.square().sum() for g in grads if g is not None)


def _check_loss(loss: Tensor) -> None:
    """A one-line error instead of autograd's when `loss` is not a differentiable scalar."""
    if not isinstance(loss, Tensor) or loss.numel() != 1:
        shape = tuple(loss.shape) if isinstance(loss, Tensor) else type(loss).__name__
        raise ValueError(f"loss must be a scalar tensor, got {shape}")
    if not loss.requires_grad:
        raise ValueError("loss does not require grad: compute it from the parameters/inputs (outside "
                         "torch.no_grad) so that its gradient exists")


def input_gradient_norm(fn: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """Per-example ||grad_x fn(x)|| for fn mapping (B, ...) to B scores, differentiable w.r.t. fn's
    parameters (double backprop); `x` is detached first, so no gradient reaches what produced it."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        (g,) = torch.autograd.grad(fn(x).sum(), x, create_graph=True)
    return (g.flatten(1).square().sum(1) + _TINY).sqrt()


def input_gradient_penalty(loss: Tensor, inputs: Tensor | Sequence[Tensor]) -> Tensor:
    """||dL/d inputs||^2 (summed over all entries), differentiable: add `weight * it` to the loss.

    `inputs` must be part of `loss`'s graph and require grad: data made `requires_grad_()` before the
    forward pass, or an intermediate tensor such as token embeddings.
    """
    _check_loss(loss)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if not inputs or not all(t.requires_grad for t in inputs):
        raise ValueError("inputs must be tensors that require grad and lie in the loss's graph")
    grads = torch.autograd.grad(loss, inputs, create_graph=True)
    return _squared_norm(grads)


def param_gradient_penalty(loss: Tensor, params: Sequence[Tensor]) -> Tensor:
    """||dL/d theta||^2 over `params`, differentiable (double backprop): add `weight * it` to the loss.

    Its gradient is 2 H g (H the Hessian of L, g its gradient). A parameter the loss does not reach
    contributes 0.
    """
    _check_loss(loss)
    params = _params(params)
    grads = torch.autograd.grad(loss, params, create_graph=True, allow_unused=True)
    if all(g is None for g in grads):  # the loss does not depend on these parameters
        return loss.new_zeros(())
    return _squared_norm(grads)


def param_gradient_penalty_fd_(closure: Callable[[], Tensor], params: Sequence[Tensor], weight: float,
                               eps: float = 1e-3) -> tuple[Tensor, Tensor]:
    """Set p.grad to the gradient of L + weight * ||grad L||^2 without double backprop.

    The penalty's gradient 2 H g is approximated by a finite difference along g,
    H g ~ ||g|| (grad L(theta + h g / ||g||) - grad L(theta)) / h with h = eps, which costs a second
    forward/backward instead of a double backward (https://kexue.fm/archives/8796 and /7787).
    `closure()` must recompute and return the loss (it is called twice; no backward inside). The
    parameters are restored exactly; randomness in `closure` (dropout) must repeat, or the
    difference is noise. Returns (loss, ||g||^2) at theta, detached. Converges to the exact
    gradient as eps -> 0 (error O(eps)) until rounding takes over.
    """
    check_range("weight", weight, 0.0)
    check_range("eps", eps, 0.0, low_open=True)
    params = _params(params)
    with torch.enable_grad():
        loss = closure()
        g = torch.autograd.grad(loss, params, allow_unused=True)
    g = [torch.zeros_like(p) if gi is None else gi for p, gi in zip(params, g)]
    sq = _squared_norm(g).detach()
    norm = float(sq.sqrt())
    if weight == 0 or norm == 0:  # the penalty and its gradient vanish
        for p, gi in zip(params, g):
            p.grad = gi.clone()
        return loss.detach(), sq
    backup = [p.detach().clone() for p in params]
    step = eps / norm
    with torch.no_grad():
        for p, gi in zip(params, g):
            p.add_(gi, alpha=step)
    try:
        with torch.enable_grad():
            shifted = torch.autograd.grad(closure(), params, allow_unused=True)
    finally:
        with torch.no_grad():
            for p, b in zip(params, backup):
                p.copy_(b)
    for p, gi, si in zip(params, g, shifted):
        si = torch.zeros_like(p) if si is None else si
        hg = (si - gi) / step  # H g, up to O(eps)
        p.grad = gi + 2.0 * weight * hg
    return loss.detach(), sq
