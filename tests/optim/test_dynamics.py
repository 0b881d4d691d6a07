import math

import pytest
import torch

from genlab.optim import DampedDynamicsSGD, damped_to_momentum, momentum_for_lr_decay, momentum_to_damped
from tests.optim.quadratic import X0, flow, grad, loss, param_and_closure

GAMMA, LAM = 0.3, 1.5


def test_maps_round_trip_and_match_closed_form():
    lr, beta = damped_to_momentum(GAMMA, LAM)
    assert lr == pytest.approx(GAMMA**2 / (1 + LAM * GAMMA / 2))
    assert beta == pytest.approx((1 - LAM * GAMMA / 2) / (1 + LAM * GAMMA / 2))
    assert momentum_to_damped(lr, beta) == pytest.approx((GAMMA, LAM))


def _run(opt_factory, steps):
    x, opt, closure = param_and_closure(opt_factory)
    out = []
    for _ in range(steps):
        opt.step(closure)
        out.append(x.detach().clone())
    return out


def test_heavy_ball_is_leapfrog_of_damped_motion():
    # eta at half steps: (eta+ - eta-)/g = -lam (eta+ + eta-)/2 - grad L(x);  (x' - x)/g = eta+
    ours = _run(lambda ps: DampedDynamicsSGD(ps, GAMMA, LAM), 30)
    x, eta = X0.clone(), torch.zeros_like(X0)
    for t in range(30):
        eta = ((1 - LAM * GAMMA / 2) * eta - GAMMA * grad(x)) / (1 + LAM * GAMMA / 2)
        x = x + GAMMA * eta
        torch.testing.assert_close(ours[t], x, rtol=1e-12, atol=1e-12)  # why: float64, reordered ops


@pytest.mark.parametrize(("nesterov", "torch_kwargs"), [(None, {}), ("standard", {"nesterov": True})])
def test_equals_torch_sgd_at_constant_lr(nesterov, torch_kwargs):
    lr, beta = damped_to_momentum(GAMMA, LAM)
    ours = _run(lambda ps: DampedDynamicsSGD(ps, GAMMA, LAM, nesterov=nesterov), 30)
    ref = _run(lambda ps: torch.optim.SGD(ps, lr=lr, momentum=beta, **torch_kwargs), 30)
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)  # why: float64, reordered ops


@pytest.mark.parametrize(("nesterov", "shift"), [("standard", 1.0), ("half", 0.5)])
def test_nesterov_forms_track_the_lookahead_scheme(nesterov, shift):
    # v' = beta v - lr grad L(x + shift*beta v), x' = x + v'; the optimizer stores X = x + shift*beta v.
    lr, beta = damped_to_momentum(GAMMA, LAM)
    ours = _run(lambda ps: DampedDynamicsSGD(ps, GAMMA, LAM, nesterov=nesterov), 30)
    x, v = X0.clone(), torch.zeros_like(X0)
    for t in range(30):
        v = beta * v - lr * grad(x + shift * beta * v)
        x = x + v
        torch.testing.assert_close(ours[t], x + shift * beta * v, rtol=1e-12, atol=1e-12)


def test_momentum_beats_gradient_descent_at_equal_lr():
    lr, _ = damped_to_momentum(GAMMA, LAM)
    heavy = _run(lambda ps: DampedDynamicsSGD(ps, GAMMA, LAM), 200)[-1]
    plain = _run(lambda ps: torch.optim.SGD(ps, lr=lr), 200)[-1]
    x_star = flow(1e4)
    assert loss(heavy) - loss(x_star) < 0.1 * (loss(plain) - loss(x_star))


def test_momentum_for_lr_decay_keeps_friction():
    beta, lr, r = 0.99, 1e-4, 0.25
    _, lam = momentum_to_damped(lr, beta)
    _, lam_new = momentum_to_damped(r * lr, momentum_for_lr_decay(beta, r))
    _, lam_same_beta = momentum_to_damped(r * lr, beta)
    # why: the rule rests on beta ~ 1 - lam sqrt(lr), accurate to O(1 - beta) = 1 %
    assert lam_new == pytest.approx(lam, rel=0.02)
    assert lam_same_beta == pytest.approx(lam / math.sqrt(r), rel=0.02)  # without retuning it doubles


@pytest.mark.parametrize(("gamma", "lam"), [(0.0, 1.0), (-0.1, 1.0), (0.5, -1.0), (1.0, 2.0)])
def test_bad_coefficients(gamma, lam):
    with pytest.raises(ValueError):
        DampedDynamicsSGD([torch.nn.Parameter(X0.clone())], gamma, lam)


def test_bad_nesterov_and_momentum_args():
    with pytest.raises(ValueError):
        DampedDynamicsSGD([torch.nn.Parameter(X0.clone())], GAMMA, LAM, nesterov="full")
    with pytest.raises(ValueError):
        DampedDynamicsSGD.from_momentum([torch.nn.Parameter(X0.clone())], lr=-0.1, momentum=0.9)
    with pytest.raises(ValueError):
        momentum_for_lr_decay(1.5, 0.5)
