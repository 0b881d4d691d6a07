"""Flow matching between N(0, I) and N(mu, Sigma) with the exact marginal velocity (closed form).

For an affine path x_t = a x0 + b x1 (no path noise), x0 ~ N(0, I), x1 ~ N(mu, Sigma) independent,
x_t ~ N(b mu, C_t) with C_t = a^2 I + b^2 Sigma, and the marginal velocity E[a' x0 + b' x1 | x_t = x]
is v(x, t) = b' mu + (a a' I + b b' Sigma) C_t^{-1} (x - b mu). For the I-CFM line (a = 1 - t,
b = t) this is the spec's v = mu + (t Sigma - (1 - t) I) C_t^{-1} (x - t mu) (checked below).
"""

import math

import pytest
import torch

from genlab.models.cfm import CFM, CFMWithDensity, build_path
from genlab.models.registry import MODELS
from genlab.ode import solve, velocity_field

MU = torch.tensor([1.0, -0.5], dtype=torch.float64)
SIGMA = torch.tensor([[1.5, 0.6], [0.6, 0.5]], dtype=torch.float64)  # non-diagonal, det 0.39


def spec_velocity(x, t):
    """The spec's formula for the straight path (sec. 6), written out for t a number."""
    eye = torch.eye(2, dtype=torch.float64)
    c = (1 - t) ** 2 * eye + t**2 * SIGMA
    return MU + (x - t * MU) @ torch.linalg.solve(c, t * SIGMA - (1 - t) * eye).T


def marginal_velocity(path):
    """v(x, t) of `path` between N(0, I) and N(MU, SIGMA), from the path's own coefficients."""
    eye = torch.eye(2, dtype=torch.float64)

    def v(x, t):  # t: (B,), all equal here
        tt = torch.as_tensor(t, dtype=torch.float64).reshape(-1)[:1]
        a, b, da, db = (float(c) for c in path.coefficients(tt))
        c = a * a * eye + b * b * SIGMA
        k = a * da * eye + b * db * SIGMA  # Cov(u, x_t)
        return db * MU + (x - b * MU) @ torch.linalg.solve(c, k).T  # C and K are symmetric

    return v


def end_covariance(name, sigma):
    return SIGMA + (sigma**2 * torch.eye(2, dtype=torch.float64) if name == "ot" else 0.0)


def test_spec_formula_is_the_icfm_marginal_velocity():
    v = marginal_velocity(build_path("icfm", 0.0))
    x = torch.randn(7, 2, dtype=torch.float64)
    for t in (0.0, 0.3, 0.9):
        assert torch.allclose(v(x, torch.full((7,), t, dtype=torch.float64)), spec_velocity(x, t), atol=1e-12)


@pytest.mark.parametrize("name, sigma", [("icfm", 0.0), ("otcfm", 0.0), ("ot", 0.05), ("vp", 0.0)])
def test_exact_velocity_transports_normal_onto_gaussian(name, sigma):
    v = velocity_field(marginal_velocity(build_path(name, sigma)))
    target = end_covariance(name, sigma)
    # The flow of this linear ODE is affine, x(1) = M x(0) + c: RK4 at 200 steps gives M and c to
    # ~1e-9, and M M^T must be the end covariance exactly (a check with no Monte-Carlo error).
    basis = torch.cat([torch.zeros(1, 2), torch.eye(2)]).double()
    ends = solve(v, basis, 0.0, 1.0, "rk4", 200).x
    c, m = ends[0], (ends[1:] - ends[0]).T
    assert torch.allclose(c, MU, atol=1e-7)
    assert torch.allclose(m @ m.T, target, atol=1e-7)
    # and samples: moments within Monte-Carlo error
    g = torch.Generator().manual_seed(0)
    n = 20000
    x1 = solve(v, torch.randn(n, 2, generator=g, dtype=torch.float64), 0.0, 1.0, "rk4", 50).x
    se_mean = (target.diagonal() / n).sqrt()
    assert ((x1.mean(0) - MU).abs() < 4 * se_mean).all()
    cov = torch.cov(x1.T)
    se_cov = ((target.diagonal()[:, None] * target.diagonal()[None] + target**2) / n).sqrt()
    assert ((cov - target).abs() < 4 * se_cov).all()


def gaussian_model(velocity, divergence="exact"):
    cls = MODELS.get("cfm")
    model = cls(cls.Config(path="icfm", hidden=4, depth=1, divergence=divergence,
                           atol=1e-9, rtol=1e-9), (2,)).double()
    model.velocity = velocity  # the instance's velocity is the closed form, not the net
    return model


def test_ode_likelihood_equals_gaussian_log_density():
    model = gaussian_model(marginal_velocity(build_path("icfm", 0.0)))
    assert isinstance(model, CFMWithDensity)
    g = torch.Generator().manual_seed(1)
    x = MU + torch.randn(16, 2, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(SIGMA).T * 1.5
    want = torch.distributions.MultivariateNormal(MU, SIGMA).log_prob(x)
    got = model.likelihood_estimates(x)
    assert set(got) == {"log_likelihood_ode_exact"}
    assert torch.allclose(got["log_likelihood_ode_exact"], want, atol=1e-6)


def test_hutchinson_likelihood_is_unbiased_and_named():
    model = gaussian_model(marginal_velocity(build_path("icfm", 0.0)), divergence="hutchinson")
    x = MU.expand(4000, 2).clone()
    torch.manual_seed(0)
    got = model.likelihood_estimates(x)
    assert set(got) == {"log_likelihood_ode_hutchinson"}
    want = float(torch.distributions.MultivariateNormal(MU, SIGMA).log_prob(MU))
    est = got["log_likelihood_ode_hutchinson"]
    assert est.std() > 1e-3  # a random estimate
    assert float(est.mean()) == pytest.approx(want, abs=4 * float(est.std()) / math.sqrt(len(est)) + 1e-6)


def test_model_velocity_is_the_net():
    cls = MODELS.get("cfm")
    model = cls(cls.Config(source="moons"), (2,))
    assert type(model) is CFM and not hasattr(model, "likelihood_estimates")


def test_random_net_density_integrates_to_one():
    """The exact ODE likelihood of an untrained model is a density: it integrates to 1 on a grid."""
    cls = MODELS.get("cfm")
    torch.manual_seed(0)
    model = cls(cls.Config(hidden=32, depth=2, atol=1e-6, rtol=1e-6), (2,)).double().eval()
    with torch.no_grad():  # a visible deformation (mean shift ~0.8), still well inside the grid
        for p in model.net.parameters():
            p.mul_(1.5)
    h = 0.2  # the midpoint rule is very accurate on smooth, fast-decaying densities
    ax = torch.arange(-6.0, 6.0, h, dtype=torch.float64) + h / 2
    grid = torch.stack(torch.meshgrid(ax, ax, indexing="ij"), -1).reshape(-1, 2)
    log_p = model.likelihood_estimates(grid)["log_likelihood_ode_exact"]
    base = model.source.log_prob(grid)
    assert (log_p - base).abs().max() > 0.05  # the flow really changes the density
    assert float(log_p.exp().sum()) * h * h == pytest.approx(1.0, abs=2e-3)
