"""Score-driven and annealed Langevin dynamics with the exact score of a Gaussian mixture (spec sec. 6)."""

from __future__ import annotations

import math

import pytest
import torch

from genlab.core.errors import ConfigError
from genlab.sampling import AnnealedLangevin, LangevinSampler, energy_gradient, geometric_sigmas

D64 = torch.float64
WEIGHTS = torch.tensor([0.2, 0.3, 0.5], dtype=D64)
MEANS = torch.tensor([[-4.0, 0.0], [3.0, 3.0], [2.0, -4.0]], dtype=D64)
STDS = torch.tensor([0.5, 0.8, 0.4], dtype=D64)


def mixture_score(x, sigma):
    """grad log q_sigma(x) = sum_k w_k(x) (m_k - x) / (s_k^2 + sigma^2),
    w_k(x) proportional to pi_k N(x; m_k, (s_k^2 + sigma^2) I)."""
    var = STDS**2 + sigma[:, None] ** 2  # (B, K)
    diff = MEANS[None] - x[:, None, :]  # (B, K, 2)
    log_w = WEIGHTS.log() - 0.5 * diff.square().sum(-1) / var - math.log(2 * math.pi) - var.log()
    w = torch.softmax(log_w, dim=1)
    return (w[..., None] * diff / var[..., None]).sum(1)


def mixture_log_prob(x, sigma):
    var = STDS**2 + sigma**2
    diff = MEANS[None] - x[:, None, :]
    return torch.logsumexp(WEIGHTS.log() - 0.5 * diff.square().sum(-1) / var - math.log(2 * math.pi)
                           - var.log(), dim=1)


def test_mixture_score_is_the_gradient_of_its_log_density():
    x = torch.randn(20, 2, dtype=D64) * 4
    sigma = torch.full((20,), 0.7, dtype=D64)
    torch.testing.assert_close(mixture_score(x, sigma),
                               -energy_gradient(lambda y: -mixture_log_prob(y, 0.7), x))


def test_score_driven_chain_equals_energy_driven_chain():
    energy = lambda y: -mixture_log_prob(y, 0.3)  # noqa: E731
    score = lambda y: mixture_score(y, torch.full((len(y),), 0.3, dtype=D64))  # noqa: E731
    x0 = torch.randn(50, 2, dtype=D64)
    for sampler in (LangevinSampler.theoretical(0.01, 20),
                    LangevinSampler.practical(0.1, 0.01, 20, 0.5, (-5, 5))):
        torch.manual_seed(3)
        a = sampler(energy, x0)
        torch.manual_seed(3)
        b = sampler.run_score(score, x0)
        torch.testing.assert_close(a, b)


def test_annealed_langevin_reproduces_mixture_weights_and_moments():
    torch.manual_seed(0)
    # sigma_1 ~ the largest distance between modes (NCSNv2's rule); eps / sigma_L^2 = 0.2 keeps every
    # level's step at most a fifth of its target's variance
    sampler = AnnealedLangevin(geometric_sigmas(10.0, 0.05, 12), eps=5e-4, n_steps=100)
    assert sampler.nfe == 12 * 100 + 1
    n = 5000
    x = sampler(mixture_score, 10.0 * torch.randn(n, 2, dtype=D64))
    assert not x.requires_grad
    nearest = torch.cdist(x, MEANS).argmin(1)
    shares = torch.bincount(nearest, minlength=3).double() / n
    # why these tolerances: Monte-Carlo standard errors are ~0.007 for a share and ~5 % for a mode's
    # variance (1000-2500 points); annealing itself is not exact: measured shares 0.206 / 0.312 /
    # 0.482, variances 4-9 % high (the chains stop mixing at small sigma, where steps are tiny)
    torch.testing.assert_close(shares, WEIGHTS, atol=0.035, rtol=0)
    for k in range(3):  # within each mode: its mean and variance
        xk = x[nearest == k]
        torch.testing.assert_close(xk.mean(0), MEANS[k], atol=0.06, rtol=0)
        torch.testing.assert_close(xk.var(0), STDS[k].square().expand(2), atol=0, rtol=0.15)
    mean = (WEIGHTS[:, None] * MEANS).sum(0)
    second = (WEIGHTS[:, None, None] * (STDS[:, None, None] ** 2 * torch.eye(2, dtype=D64)
                                        + MEANS[:, :, None] * MEANS[:, None, :])).sum(0)
    cov = second - mean[:, None] * mean[None, :]  # diagonal 7.0, 9.8
    torch.testing.assert_close(x.mean(0), mean, atol=0.2, rtol=0)
    torch.testing.assert_close(torch.cov(x.T), cov, atol=0.6, rtol=0)


def test_step_sizes_and_final_denoising_step():
    sampler = AnnealedLangevin((1.0, 0.5, 0.1), eps=0.01, n_steps=1, denoise=True)
    assert sampler.step_sizes() == pytest.approx((1.0, 0.25, 0.01))
    calls = []

    def score(x, sigma):
        calls.append(float(sigma[0]))
        return -x / (1 + sigma[:, None] ** 2)  # N(0, I) smoothed by sigma

    x0 = torch.randn(4, 2, dtype=D64)
    torch.manual_seed(1)
    got = sampler(score, x0)
    assert calls == [1.0, 0.5, 0.1, 0.1]
    torch.manual_seed(1)
    x = x0
    for sigma, alpha in ((1.0, 1.0), (0.5, 0.25), (0.1, 0.01)):
        x = x + alpha / 2 * (-x / (1 + sigma**2)) + math.sqrt(alpha) * torch.randn_like(x)
    torch.testing.assert_close(got, x + 0.01 * (-x / 1.01))


def test_geometric_sigmas_and_bad_settings():
    s = geometric_sigmas(1.0, 0.01, 3)
    assert s == pytest.approx((1.0, 0.1, 0.01))
    assert geometric_sigmas(2.0, 0.5, 1) == (2.0,)
    for bad in (dict(sigmas=()), dict(sigmas=(0.1, 0.5)), dict(sigmas=(1.0, 0.0)),
                dict(sigmas=(1.0,), eps=0.0), dict(sigmas=(1.0,), n_steps=0)):
        with pytest.raises(ConfigError):
            AnnealedLangevin(**bad)
    with pytest.raises(ConfigError):
        geometric_sigmas(0.1, 1.0, 3)
