"""ODE solvers: convergence order against matrix exponentials, dopri5 at tight tolerance, NFE."""

from __future__ import annotations

import math

import pytest
import torch

from genlab.core.errors import ConfigError
from genlab.ode import FIXED_NFE_PER_STEP, solve

A = torch.tensor([[-0.3, 2.0], [-2.0, -0.3]], dtype=torch.float64)  # a damped rotation
X0 = torch.tensor([[1.0, 0.5], [-0.2, 1.5]], dtype=torch.float64)  # a batch of two points


def field(t, x):
    """dx/dt = t A x (depends on t, to test the solvers' t handling); x(t) = expm(A (t^2 - t0^2) / 2) x0."""
    return t * x @ A.T


def exact(t0, t1, x0=X0):
    return x0 @ torch.linalg.matrix_exp(A * (t1**2 - t0**2) / 2).T


@pytest.mark.parametrize("method,order", [("euler", 1), ("midpoint", 2), ("heun", 2), ("rk4", 4)])
@pytest.mark.parametrize("t0,t1", [(0.0, 1.5), (1.5, 0.2)])
def test_fixed_step_convergence_order_and_nfe(method, order, t0, t1):
    errors = []
    for steps in (20, 40, 80):
        sol = solve(field, X0, t0, t1, method, steps=steps)
        assert sol.nfe == FIXED_NFE_PER_STEP[method] * steps
        errors.append(float((sol.x - exact(t0, t1)).abs().max()))
    rates = [math.log2(a / b) for a, b in zip(errors, errors[1:])]
    assert all(abs(r - order) < 0.25 for r in rates), (errors, rates)


def test_nfe_per_step_table():
    assert FIXED_NFE_PER_STEP == {"euler": 1, "midpoint": 2, "heun": 2, "rk4": 4}


@pytest.mark.parametrize("t0,t1", [(0.0, 1.5), (1.5, -0.5)])
def test_dopri5_matches_closed_form(t0, t1):
    sol = solve(field, X0, t0, t1, "dopri5", atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(sol.x, exact(t0, t1), atol=1e-8, rtol=0)
    loose = solve(field, X0, t0, t1, "dopri5", atol=1e-4, rtol=1e-4)
    assert 0 < loose.nfe < sol.nfe  # tighter tolerance, more evaluations
    assert float((loose.x - exact(t0, t1)).abs().max()) < 1e-3


def test_trajectory_and_tuple_state():
    """A (x, integral) state: the second leaf integrates |x|^2 along the path; trajectories stack."""
    def f(t, s):
        x, _ = s
        return field(t, x), x.square().sum(1)

    fine = solve(f, (X0, torch.zeros(2, dtype=torch.float64)), 0.0, 1.0, "rk4", steps=200, trajectory=True)
    assert fine.times.shape == (201,) and fine.trajectory[0].shape == (201, 2, 2)
    torch.testing.assert_close(fine.trajectory[0][-1], fine.x[0])
    for i, t in enumerate((0.0, 0.5, 1.0)):
        torch.testing.assert_close(fine.trajectory[0][100 * i], exact(0.0, t), atol=1e-9, rtol=0)
    ada = solve(f, (X0, torch.zeros(2, dtype=torch.float64)), 0.0, 1.0, "dopri5", steps=4, trajectory=True,
                atol=1e-10, rtol=1e-10)
    assert ada.trajectory[1].shape == (5, 2)
    torch.testing.assert_close(ada.x[1], fine.x[1], atol=1e-8, rtol=0)
    torch.testing.assert_close(ada.trajectory[0][2], exact(0.0, 0.5), atol=1e-8, rtol=0)


def test_zero_interval_and_gradients():
    same = solve(field, X0, 0.3, 0.3, "rk4", steps=5)
    assert same.nfe == 0 and torch.equal(same.x, X0)
    x0 = X0.clone().requires_grad_(True)
    solve(field, x0, 0.0, 1.0, "heun", steps=10).x.sum().backward()
    assert x0.grad.abs().sum() > 0


@pytest.mark.parametrize("bad", [dict(method="rk45"), dict(steps=0), dict(atol=0.0), dict(t1=math.nan)])
def test_bad_options(bad):
    kw = dict(method="euler", steps=3, t1=1.0) | bad
    with pytest.raises(ConfigError):
        solve(field, X0, 0.0, **kw)
