"""ODE log-likelihood: the Gaussian flow-matching closed form, a density that integrates to 1, and an
unbiased Hutchinson estimate."""

from __future__ import annotations

import math

import pytest
import torch

from genlab.core.errors import ConfigError
from genlab.nets import TimeMLP
from genlab.ode import divergence_exact, divergence_hutchinson, ode_log_likelihood, solve

D64 = torch.float64
MU = torch.tensor([1.0, -2.0, 0.5], dtype=D64)
L = torch.tensor([[1.5, 0.0, 0.0], [0.6, 0.4, 0.0], [-0.3, 0.2, 0.8]], dtype=D64)
SIGMA = L @ L.T


def fm_velocity(x, t):
    """E[x1 - x0 | x_t = x] for x0 ~ N(0, I), x1 ~ N(MU, SIGMA), x_t = (1 - t) x0 + t x1 (spec sec. 6):
    MU + (t SIGMA - (1 - t) I) C_t^-1 (x - t MU), C_t = (1 - t)^2 I + t^2 SIGMA."""
    eye = torch.eye(3, dtype=D64)
    t = t[:, None, None]
    c = (1 - t) ** 2 * eye + t**2 * SIGMA
    a = t * SIGMA - (1 - t) * eye
    r = x - t[:, :, 0] * MU
    return MU + (a @ torch.linalg.solve(c, r[:, :, None]))[:, :, 0]


def gaussian_log_prob(x):
    return torch.distributions.MultivariateNormal(MU, SIGMA).log_prob(x)


def test_flow_matching_between_gaussians_gives_the_gaussian_density():
    torch.manual_seed(0)
    x = MU + torch.randn(6, 3, dtype=D64) @ L.T
    res = ode_log_likelihood(fm_velocity, x, 1.0, 0.0, method="dopri5", atol=1e-9, rtol=1e-9)
    torch.testing.assert_close(res.log_prob, gaussian_log_prob(x), atol=1e-4, rtol=0)
    assert res.divergence == "exact" and res.probes is None and res.nfe > 0
    # the end point z is the source point the flow carries to x: pushing it forward returns x
    back = solve(lambda t, y: fm_velocity(y, t.expand(len(y))), res.z, 0.0, 1.0, "dopri5", atol=1e-9,
                 rtol=1e-9)
    torch.testing.assert_close(back.x, x, atol=1e-6, rtol=0)


def test_reversed_time_direction_gives_the_same_density():
    """Data at t = 0, source at t = 1 (the probability-flow convention): w(x, s) = -v(x, 1 - s)."""
    torch.manual_seed(1)
    x = MU + torch.randn(5, 3, dtype=D64) @ L.T
    res = ode_log_likelihood(lambda y, s: -fm_velocity(y, 1 - s), x, 0.0, 1.0, method="dopri5",
                             atol=1e-9, rtol=1e-9)
    torch.testing.assert_close(res.log_prob, gaussian_log_prob(x), atol=1e-4, rtol=0)


def test_fixed_step_rk4_converges_to_the_density():
    torch.manual_seed(2)
    x = MU + torch.randn(4, 3, dtype=D64) @ L.T
    coarse = ode_log_likelihood(fm_velocity, x, method="rk4", steps=4)
    fine = ode_log_likelihood(fm_velocity, x, method="rk4", steps=64)
    assert fine.nfe == 4 * 64
    err = lambda r: float((r.log_prob - gaussian_log_prob(x)).abs().max())  # noqa: E731
    assert err(fine) < 1e-4 < err(coarse)


def random_velocity(seed=0):
    torch.manual_seed(seed)
    # time_scale 10: smooth enough in t for dopri5 to need ~30 NFE (~500 at the default 1000)
    net = TimeMLP(2, hidden=32, depth=2, act="silu", time="sinusoidal", time_dim=16, time_scale=10.0).double()
    with torch.no_grad():  # a strong enough flow that the density is far from the source's
        net.out.weight.mul_(3.0)
    return net


def test_random_mlp_flow_density_integrates_to_one():
    net = random_velocity()
    h = 0.25  # the midpoint rule is very accurate for a smooth density with light tails
    g = torch.arange(-7 + h / 2, 7, h, dtype=D64)
    grid = torch.cartesian_prod(g, g)
    with torch.no_grad():
        res = ode_log_likelihood(net, grid, method="dopri5", atol=1e-5, rtol=1e-5)
    mass = float(res.log_prob.exp().sum() * h * h)
    assert abs(mass - 1) < 1e-3, mass  # measured: 1 + 1.6e-6
    # and the flow is not the identity: the density differs from the source's
    src = -0.5 * grid.square().sum(1) - math.log(2 * math.pi)
    assert float((res.log_prob - src).abs().max()) > 0.5


def test_divergences_match_the_jacobian_trace():
    net = random_velocity(3)
    x = torch.randn(5, 2, dtype=D64, requires_grad=True)
    t = torch.rand(5, dtype=D64)
    jac = torch.stack([torch.autograd.functional.jacobian(lambda y, i=i: net(y[None], t[i:i + 1])[0],
                                                          x[i].detach()) for i in range(5)])
    trace = jac.diagonal(dim1=1, dim2=2).sum(1)
    torch.testing.assert_close(divergence_exact(net(x, t), x), trace)
    # Hutchinson with the two basis vectors as probes (mean over K of e_k^T J e_k = trace / K)
    e = torch.eye(2, dtype=D64)[:, None, :].expand(2, 5, 2)
    torch.testing.assert_close(divergence_hutchinson(net(x, t), x, e) * 2, trace)


@pytest.mark.parametrize("probes", ["rademacher", "gaussian"])
def test_hutchinson_is_unbiased(probes):
    """The same points repeated 4000 times, each copy with its own probe: with a fixed-step solver
    the x path is the exact run's, so the mean estimate must equal the exact log-density."""
    net = random_velocity(4)
    x = torch.tensor([[0.3, -0.8], [1.5, 0.2]], dtype=D64)
    n = 4000
    with torch.no_grad():
        exact = ode_log_likelihood(net, x, method="rk4", steps=8)
        est = ode_log_likelihood(net, x.repeat(n, 1), method="rk4", steps=8, divergence="hutchinson",
                                 probes=probes, generator=torch.Generator().manual_seed(0))
    assert est.divergence == "hutchinson" and est.probes == probes and est.n_probes == 1
    lp = est.log_prob.view(n, 2)
    se = lp.std(0) / math.sqrt(n)
    assert bool((lp.std(0) > 1e-3).all())  # the estimate is noisy per probe ...
    assert bool(((lp.mean(0) - exact.log_prob).abs() < 4 * se).all()), (lp.mean(0), exact.log_prob, se)


def test_hutchinson_probes_are_seeded_and_fixed_over_time():
    net = random_velocity(5)
    x = torch.randn(3, 2, dtype=D64)
    with torch.no_grad():
        runs = [ode_log_likelihood(net, x, method="euler", steps=5, divergence="hutchinson", n_probes=2,
                                   generator=torch.Generator().manual_seed(7)) for _ in range(2)]
    torch.testing.assert_close(runs[0].log_prob, runs[1].log_prob)


def test_bad_options():
    with pytest.raises(ConfigError):
        ode_log_likelihood(fm_velocity, MU[None], divergence="trace")
    with pytest.raises(ConfigError):
        ode_log_likelihood(fm_velocity, MU[None], divergence="hutchinson", probes="uniform")
    with pytest.raises(ConfigError):
        ode_log_likelihood(fm_velocity, MU[None], n_probes=0)
