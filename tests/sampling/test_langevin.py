"""Langevin dynamics: the theoretical sampler draws a known Gaussian; the practical step is the
official one; gradients are taken w.r.t. the chains only."""

import math

import pytest
import torch
from torch import nn

from genlab.sampling import LangevinSampler

MU = torch.tensor([1.0, -0.5], dtype=torch.float64)
SIGMA = torch.tensor([[1.0, 0.3], [0.3, 0.8]], dtype=torch.float64)  # precision eigenvalues 0.82, 1.71
PRECISION = torch.linalg.inv(SIGMA)


def quadratic_energy(x):
    """E(x) = 1/2 (x - mu)^T Lambda (x - mu): exp(-E) is N(mu, Lambda^{-1})."""
    d = x - MU
    return 0.5 * ((d @ PRECISION) * d).sum(1)


def test_theoretical_langevin_samples_the_gaussian_of_a_quadratic_energy():
    torch.manual_seed(0)
    chains, eps = 10000, 0.04
    # 400 steps: the slowest mode contracts by (1 - eps * lambda_min / 2)^400 ~ exp(-6.5) from x0 = 0.
    sampler = LangevinSampler.theoretical(step_size=eps, n_steps=400)
    x = sampler(quadratic_energy, torch.zeros(chains, 2, dtype=torch.float64))
    mean, cov = x.mean(0), torch.cov(x.T)
    # why: Monte-Carlo standard errors with 10000 independent chains are ~0.01 (mean) and ~0.014
    # (covariance entries); the discretisation bias of Langevin at eps = 0.04 is about
    # eps * lambda_max / 4 < 2 % of the variance.
    torch.testing.assert_close(mean, MU, rtol=0, atol=0.04)
    torch.testing.assert_close(cov, SIGMA, rtol=0, atol=0.06)
    assert not x.requires_grad


def test_theoretical_noise_is_sqrt_of_step_and_drift_half_step():
    s = LangevinSampler.theoretical(step_size=0.08, n_steps=3)
    assert s.drift == pytest.approx(0.04) and s.noise_std == pytest.approx(math.sqrt(0.08))
    assert not s.noise_first and s.grad_clip is None and s.clamp is None


def test_practical_step_is_noise_then_clipped_gradient_then_clamp():
    """One official IGEBM step, x + N(0, s^2) -> x - lambda clip(grad E) -> clamp, by hand."""
    net = nn.Sequential(nn.Linear(3, 8), nn.SiLU(), nn.Linear(8, 1))

    def energy(x):
        return net(x).flatten() * 50  # steep enough that some gradients get clipped

    sampler = LangevinSampler.practical(step_size=10.0, noise_std=0.05, n_steps=1, grad_clip=0.01,
                                        clamp=(0.0, 1.0))
    x0 = torch.rand(16, 3)
    torch.manual_seed(7)
    got = sampler(energy, x0)

    torch.manual_seed(7)
    noisy = (x0 + 0.05 * torch.randn_like(x0)).requires_grad_(True)
    (g,) = torch.autograd.grad(energy(noisy).sum(), noisy)
    assert (g.abs() > 0.01).any()  # the clip is exercised
    expected = (noisy.detach() - 10.0 * g.clamp(-0.01, 0.01)).clamp(0.0, 1.0)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)
    assert got.min() >= 0 and got.max() <= 1


def test_chains_leave_parameters_untouched_and_work_under_no_grad():
    net = nn.Linear(2, 1)
    with torch.no_grad():  # as sample hooks call it
        x = LangevinSampler.theoretical(0.1, 5)(lambda v: net(v).flatten(), torch.zeros(4, 2))
    assert all(p.grad is None for p in net.parameters())
    assert x.shape == (4, 2) and not x.requires_grad and x.grad_fn is None


@pytest.mark.parametrize("kwargs", [{"step_size": 0.0, "n_steps": 1}, {"step_size": 1.0, "n_steps": -1},
                                    {"step_size": 1.0, "n_steps": 1, "clamp": (1.0, 0.0)},
                                    {"step_size": 1.0, "n_steps": 1, "grad_clip": 0.0}])
def test_bad_sampler_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        LangevinSampler.theoretical(**kwargs)
