"""Primary/auxiliary direction: closed form vs a direct constrained optimisation, NNLS on random problems."""

import numpy as np
import pytest
import torch
from scipy.optimize import minimize, nnls

from genlab.mtl import PrimaryAuxWeighting, primary_aux_direction, primary_aux_weights


def constrained_direction(g0: np.ndarray, aux: np.ndarray) -> np.ndarray:
    """The primal problem solved directly: max <u, g0> - |u|^2/2 s.t. <u, g_i> >= 0 (SLSQP)."""
    cons = [{"type": "ineq", "fun": lambda u, gi=gi: gi @ u, "jac": lambda u, gi=gi: gi} for gi in aux]
    res = minimize(lambda u: 0.5 * u @ u - g0 @ u, np.zeros_like(g0), jac=lambda u: u - g0,
                   constraints=cons, method="SLSQP", options={"ftol": 1e-14, "maxiter": 500})
    assert res.success
    return res.x


@pytest.mark.parametrize(("g0", "g1"), [
    ([1.0, 0.0, 0.0], [-1.0, 1.0, 0.0]),   # conflict: project g0 onto the plane orthogonal to g1
    ([1.0, 2.0, 0.0], [1.0, 1.0, 1.0]),    # no conflict: u = g0, lam = 0
    ([2.0, -1.0, 0.5], [-3.0, 0.0, 1.0]),
])
def test_one_auxiliary_closed_form_matches_constrained_optimum(g0, g1):
    g0, g1 = np.array(g0), np.array(g1)
    u, w = primary_aux_direction(torch.tensor(np.stack([g0, g1])))
    lam = max(-(g0 @ g1), 0.0) / (g1 @ g1)
    np.testing.assert_allclose(w.numpy(), [1.0, lam], atol=1e-12)
    np.testing.assert_allclose(u.numpy(), constrained_direction(g0, g1[None]), atol=1e-6)


def test_random_problems_match_nnls_and_satisfy_kkt():
    # The article's argmin-coordinate rule stalls on about a third of such problems (spec A6); NNLS is exact.
    rng = np.random.default_rng(0)
    for _ in range(100):
        n, d = rng.integers(2, 6), rng.integers(3, 31)
        g = rng.normal(size=(n + 1, d)) * rng.uniform(0.1, 10, size=(n + 1, 1))
        u, w = primary_aux_direction(torch.tensor(g))
        u, lam = u.numpy(), w.numpy()[1:]
        lam_ref, _ = nnls(g[1:].T, -g[0])
        scale = np.abs(g).max()
        # why: the solver stops at KKT violation <= 1e-10 max|g_i|^2; with d >= n the aux gradients are
        # independent, so lam is unique and well conditioned except for rare near-degenerate draws.
        np.testing.assert_allclose(u / scale, (g[0] + lam_ref @ g[1:]) / scale, atol=1e-7)
        np.testing.assert_allclose(lam, lam_ref, atol=1e-6 * (1 + np.abs(lam_ref).max()))
        slopes = g[1:] @ u
        assert (slopes >= -1e-8 * scale**2).all()  # no auxiliary loss increases
        assert (np.abs(lam * slopes) <= 1e-8 * scale**2 * (1 + lam)).all()  # complementary slackness


def test_matches_direct_optimisation_with_three_auxiliaries():
    rng = np.random.default_rng(3)
    g = rng.normal(size=(4, 6))
    u, _ = primary_aux_direction(list(torch.tensor(g)))
    np.testing.assert_allclose(u.numpy(), constrained_direction(g[0], g[1:]), atol=1e-6)


def test_weighting_puts_primary_first_by_name():
    g = torch.tensor([[-1.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    losses = {"aux": torch.tensor(1.0), "main": torch.tensor(2.0), "other": torch.tensor(3.0)}
    rule = PrimaryAuxWeighting("main")
    rule(losses, grads=g)
    w = rule.last_weights
    assert w["main"].item() == 1.0 and w["other"].item() == 0.0
    assert w["aux"].item() == pytest.approx(0.5)  # relu(-<g_main, g_aux>) / |g_aux|^2 = 1 / 2


def test_bad_input():
    with pytest.raises(ValueError, match="gram"):
        primary_aux_weights(torch.ones(3))
    with pytest.raises(ValueError, match="primary task"):
        PrimaryAuxWeighting("x")({"a": torch.tensor(1.0)}, grads=torch.ones(1, 2))
    with pytest.raises(ValueError, match="grads"):
        primary_aux_direction(torch.ones(2, 3, 4))
    with pytest.raises(ValueError, match="finite"):
        primary_aux_weights(torch.tensor([[1.0, float("nan")], [0.0, 1.0]]))
