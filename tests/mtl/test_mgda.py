"""MGDA min-norm solver: known 2/3-task answers, a brute-force QP on the simplex, MGDA-UB caveat."""

from itertools import combinations

import numpy as np
import pytest
import torch
from torch import nn

from genlab.mtl import MinNormWeighting, mgda_ub_loss, min_norm_direction, min_norm_weights, task_gradients


def brute_force_min_norm(g: np.ndarray) -> np.ndarray:
    """Exact min-norm point of conv{g_i}: solve the equality-constrained QP on every face, keep the best."""
    G = g @ g.T
    best_val, best_u = np.inf, None
    for r in range(1, len(g) + 1):
        for face in combinations(range(len(g)), r):
            S = list(face)
            kkt = np.block([[2 * G[np.ix_(S, S)], np.ones((r, 1))], [np.ones((1, r)), np.zeros((1, 1))]])
            rhs = np.r_[np.zeros(r), 1.0]
            sol = np.linalg.lstsq(kkt, rhs, rcond=None)[0]
            a = sol[:r]
            if (a >= -1e-12).all() and np.allclose(kkt @ sol, rhs, atol=1e-9):
                u = a @ g[S]
                if u @ u < best_val:
                    best_val, best_u = u @ u, u
    return best_u


def solve(g, **kw):
    u, a = min_norm_direction(torch.as_tensor(g, dtype=torch.float64), tol=1e-12, max_iter=5000, **kw)
    return u.numpy(), a.numpy()


@pytest.mark.parametrize(("g", "u_star", "a_star"), [
    ([[1.0, 0.0], [0.0, 1.0]], [0.5, 0.5], [0.5, 0.5]),            # symmetric: midpoint
    ([[1.0, 0.0], [3.0, 3.0]], [1.0, 0.0], [1.0, 0.0]),            # <g1, g2 - g1> >= 0: vertex g1
    ([[1.0, 0.0], [3.0, 3.0], [2.0, -3.0]], [1.0, 0.0], [1.0, 0.0, 0.0]),  # 3 tasks, vertex
    ([[-1.0, 1.0], [1.0, 1.0], [0.0, 3.0]], [0.0, 1.0], [0.5, 0.5, 0.0]),  # nearest point inside an edge
    ([[1.0, 0.0], [-1.0, 1.0], [-1.0, -1.0]], [0.0, 0.0], [0.5, 0.25, 0.25]),  # origin inside: stationary
])
def test_known_answers(g, u_star, a_star):
    u, a = solve(np.array(g))
    np.testing.assert_allclose(u, u_star, atol=1e-6)
    np.testing.assert_allclose(a, a_star, atol=1e-6)
    np.testing.assert_allclose(u, brute_force_min_norm(np.array(g)), atol=1e-6)


def test_two_task_closed_form_matches_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(50):
        g = rng.normal(size=(2, 4)) * rng.uniform(0.1, 10, size=(2, 1))
        a = min_norm_weights(torch.as_tensor(g @ g.T), max_iter=1).numpy()  # closed form: no iterations
        np.testing.assert_allclose(a @ g, brute_force_min_norm(g), atol=1e-10)


@pytest.mark.parametrize("away_steps", [True, False])
def test_random_problems_match_brute_force_and_descend(away_steps):
    rng = np.random.default_rng(1)
    for _ in range(40):
        T, d = rng.integers(3, 6), rng.integers(2, 8)
        g = rng.normal(size=(T, d)) * rng.uniform(0.1, 10, size=(T, 1))
        u_ref = brute_force_min_norm(g)
        u, a = solve(g, away_steps=away_steps)
        # why: the stop rule bounds ||u||^2 - ||u*||^2 <= 2 tol max||g_i||^2; plain Frank-Wolfe may use all
        # 5000 steps at O(1/k), so it gets a looser check than the away-step version.
        tol = 1e-6 if away_steps else 5e-3
        scale = np.abs(g).max()
        assert a.min() >= 0 and abs(a.sum() - 1) < 1e-12
        np.testing.assert_allclose(u / scale, u_ref / scale, atol=tol)
        # common descent: <g_i, u> >= ||u||^2 for every task, up to the solver tolerance
        assert (g @ u >= u @ u - tol * scale**2).all()


def test_weighting_backward_gives_min_norm_direction_on_shared_params():
    torch.manual_seed(0)
    shared, heads = nn.Linear(3, 4), [nn.Linear(4, 1) for _ in range(3)]
    x = torch.randn(16, 3)
    z = torch.tanh(shared(x))
    losses = {f"t{i}": (h(z) - i).pow(2).mean() for i, h in enumerate(heads)}
    params = list(shared.parameters())
    u, _ = min_norm_direction(task_gradients(losses, params), tol=1e-10, max_iter=5000)
    rule = MinNormWeighting(params, tol=1e-10, max_iter=5000)
    rule(losses).backward()
    got = torch.cat([p.grad.reshape(-1) for p in params])
    torch.testing.assert_close(got, u, rtol=1e-5, atol=1e-6)
    assert set(rule.last_weights) == set(losses)


def test_mgda_ub_uses_feature_gradients_and_can_increase_a_task():
    # Z = J theta with J J^T = diag(1, 3) (full rank); L_i = <c_i, Z>: dL_i/dZ = c_i, dL_i/dtheta = J^T c_i.
    # In Z space the min-norm point is the vertex c_1 and <c_2, c_1> > 0, yet the theta-direction J^T c_1
    # increases L_2 because c_2^T J J^T c_1 < 0: the counterexample to the paper's positive-definite argument
    # (https://kexue.fm/archives/8896).
    J = torch.diag(torch.tensor([1.0, 3.0]).sqrt()).double()
    theta = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    z = J @ theta
    c1, c2 = torch.tensor([1.0, 0.4]).double(), torch.tensor([10.0, -20.0]).double()
    losses = {"a": c1 @ z, "b": c2 @ z}
    loss, weights = mgda_ub_loss(losses, z, tol=1e-12)
    torch.testing.assert_close(torch.stack(list(weights.values())), torch.tensor([1.0, 0.0]).double())
    (u,) = torch.autograd.grad(loss, theta, retain_graph=True)
    g2 = J.T @ c2
    assert (g2 @ u).item() < 0  # stepping along -u raises L_2
    u_full, _ = min_norm_direction(task_gradients(losses, [theta]), tol=1e-12)
    assert (task_gradients(losses, [theta]) @ u_full).min() >= 0  # full MGDA never does


def test_bad_input():
    with pytest.raises(ValueError, match="gram"):
        min_norm_weights(torch.ones(2, 3))
    with pytest.raises(ValueError, match="grads"):
        min_norm_direction([torch.ones(3), torch.ones(4)])
    with pytest.raises(ValueError, match="grads"):
        min_norm_direction([])
    with pytest.raises(ValueError, match="max_iter"):
        min_norm_weights(torch.eye(3), max_iter=0)
    with pytest.raises(ValueError, match="tol"):
        min_norm_weights(torch.eye(3), tol=0.0)
    with pytest.raises(ValueError, match="one row per loss"):
        MinNormWeighting()({"a": torch.tensor(1.0), "b": torch.tensor(2.0)}, grads=torch.ones(3, 5))
    with pytest.raises(ValueError, match="needs per-task gradients"):
        MinNormWeighting()({"a": torch.tensor(1.0)})
