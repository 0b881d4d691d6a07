"""Gradient penalties against closed forms on a linear least-squares model."""

import pytest
import torch

from genlab.regularizers import (
    input_gradient_norm,
    input_gradient_penalty,
    param_gradient_penalty,
    param_gradient_penalty_fd_,
)

N, D = 7, 3


def problem(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(N, D, generator=g, dtype=torch.float64)
    y = torch.randn(N, generator=g, dtype=torch.float64)
    w = torch.randn(D, generator=g, dtype=torch.float64).requires_grad_(True)
    b = torch.randn((), generator=g, dtype=torch.float64).requires_grad_(True)
    return x, y, w, b


def mse(x, y, w, b):
    return 0.5 * ((x @ w + b - y) ** 2).mean()


def test_param_penalty_value_and_gradient_match_closed_form():
    x, y, w, b = problem()
    pen = param_gradient_penalty(mse(x, y, w, b), [w, b])
    r = (x @ w + b - y).detach()
    gw, gb = (r[:, None] * x).mean(0), r.mean()  # dL/dw, dL/db
    assert pen.item() == pytest.approx((gw.square().sum() + gb ** 2).item(), rel=1e-12)
    # d||g||^2/dtheta = 2 H g with H = [[E x x^T, E x], [E x^T, 1]]
    Exx, Ex = x.T @ x / N, x.mean(0)
    dw, db = torch.autograd.grad(pen, [w, b])
    assert torch.allclose(dw, 2 * (Exx @ gw + Ex * gb), rtol=1e-12)
    assert db.item() == pytest.approx((2 * (Ex @ gw + gb)).item(), rel=1e-12)


def test_input_penalty_matches_closed_form():
    x, y, w, b = problem(1)
    xi = x.clone().requires_grad_(True)
    pen = input_gradient_penalty(mse(xi, y, w, b), xi)
    # dL/dx_i = r_i w / N, so the penalty is ||w||^2 sum_i r_i^2 / N^2; its w-gradient by plain autograd
    r = x @ w + b - y
    closed = w.square().sum() * r.square().sum() / N ** 2
    assert pen.item() == pytest.approx(closed.item(), rel=1e-12)
    got = torch.autograd.grad(pen, [w, b])
    want = torch.autograd.grad(closed, [w, b])
    for a, c in zip(got, want):
        assert torch.allclose(a, c, rtol=1e-12)


def test_input_gradient_norm_per_example_of_linear_critic():
    w = torch.tensor([3.0, 4.0], requires_grad=True)
    norms = input_gradient_norm(lambda x: x @ w, torch.randn(5, 2))
    assert torch.allclose(norms, torch.full((5,), 5.0))
    (gw,) = torch.autograd.grad(norms.sum(), w)  # d||w||/dw = w/||w|| per example
    assert torch.allclose(gw, 5 * w.detach() / 5.0)


def exact_total_grad(weight, seed=2):
    x, y, w, b = problem(seed)
    loss = mse(x, y, w, b)
    total = loss + weight * param_gradient_penalty(loss, [w, b])
    return torch.autograd.grad(total, [w, b])


@pytest.mark.parametrize("weight", [0.0, 0.3])
def test_finite_difference_variant_converges_to_double_backprop(weight):
    exact = torch.cat([g.reshape(-1) for g in exact_total_grad(weight)])
    errors = []
    for eps in (1e-1, 1e-2, 1e-3):
        x, y, w, b = problem(2)
        w0 = w.detach().clone()
        _, sq = param_gradient_penalty_fd_(lambda x=x, y=y, w=w, b=b: mse(x, y, w, b), [w, b], weight,
                                           eps=eps)
        assert torch.equal(w.detach(), w0)  # parameters restored exactly
        approx = torch.cat([w.grad.reshape(-1), b.grad.reshape(-1)])
        errors.append((approx - exact).norm().item())
    if weight == 0:
        assert max(errors) < 1e-12
    else:
        # the quadratic loss has a constant Hessian: the difference is exact up to rounding
        assert max(errors) < 1e-8


def test_finite_difference_error_shrinks_with_eps_on_a_curved_loss():
    torch.manual_seed(0)
    x = torch.randn(16, 3, dtype=torch.float64)
    net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    params = list(net.parameters())

    def loss_fn():
        return net(x).square().mean()

    loss = loss_fn()
    exact = torch.autograd.grad(loss + 0.5 * param_gradient_penalty(loss, params), params)
    exact = torch.cat([g.reshape(-1) for g in exact])
    errors = []
    for eps in (1e-1, 1e-2, 1e-3, 1e-4):
        param_gradient_penalty_fd_(loss_fn, params, 0.5, eps=eps)
        errors.append((torch.cat([p.grad.reshape(-1) for p in params]) - exact).norm().item())
    assert errors[0] > 1e-4  # the curvature is felt at a large step...
    assert all(b < a / 5 for a, b in zip(errors, errors[1:]))  # ...and the error is O(eps)


def test_bad_arguments():
    x, y, w, b = problem()
    with pytest.raises(ValueError, match="eps"):
        param_gradient_penalty_fd_(lambda: mse(x, y, w, b), [w, b], 0.1, eps=0.0)
    with pytest.raises(ValueError, match="require grad"):
        input_gradient_penalty(mse(x, y, w, b), x)
    with pytest.raises(ValueError, match="params"):
        param_gradient_penalty(mse(x, y, w, b), [x])


def test_penalties_refuse_a_loss_without_gradient_in_one_line():
    from genlab.regularizers.gradient_penalty import input_gradient_penalty, param_gradient_penalty

    w = torch.nn.Parameter(torch.ones(3))
    with pytest.raises(ValueError, match="does not require grad"):
        param_gradient_penalty(torch.tensor(1.0), [w])
    with pytest.raises(ValueError, match="scalar"):
        param_gradient_penalty(w * 2, [w])
    x = torch.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="does not require grad"):
        input_gradient_penalty(torch.tensor(1.0), x)
    other = torch.nn.Parameter(torch.ones(1))
    assert float(param_gradient_penalty((w * 2).sum(), [other])) == 0.0  # not reached: zero, as a tensor
