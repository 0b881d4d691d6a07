"""Annealed Langevin dynamics (the shared `genlab.sampling.AnnealedLangevin`) driven by the exact score
of a smoothed Gaussian mixture reproduces the mixture: its weights (mode shares) and moments.

Exact score (spec sec. 6, checked by hand): q_sigma = sum_k pi_k N(m_k, (s_k^2 + sigma^2) I), so
grad log q_sigma(x) = sum_k w_k(x) (m_k - x) / (s_k^2 + sigma^2), w_k(x) the posterior of component k.
"""

import math

import pytest
import torch

from genlab.models.ncsn import largest_pairwise_distance
from genlab.sampling import AnnealedLangevin, geometric_sigmas

WEIGHTS = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64)
MEANS = torch.tensor([[-3.0, 0.0], [3.0, 0.0], [0.0, 4.0]], dtype=torch.float64)
STDS = torch.tensor([0.5, 0.3, 0.7], dtype=torch.float64)


def mixture_score(x, sigma):
    """Exact grad_x log of the mixture convolved with N(0, sigma^2 I); sigma (B,)."""
    var = STDS.square()[None, :] + sigma.square()[:, None]  # (B, K)
    diff = MEANS[None] - x[:, None]  # (B, K, D)
    d = x.shape[1]
    log_w = WEIGHTS.log() - 0.5 * diff.square().sum(-1) / var - 0.5 * d * var.log()
    w = torch.softmax(log_w, dim=1)
    return (w[..., None] * diff / var[..., None]).sum(1)


def mixture_samples(n, gen):
    k = torch.multinomial(WEIGHTS, n, replacement=True, generator=gen)
    return MEANS[k] + STDS[k, None] * torch.randn(n, 2, generator=gen, dtype=torch.float64), k


def moments():
    mean = (WEIGHTS[:, None] * MEANS).sum(0)
    second = sum(w * (s**2 * torch.eye(2, dtype=torch.float64) + torch.outer(m, m))
                 for w, m, s in zip(WEIGHTS, MEANS, STDS))
    return mean, second - torch.outer(mean, mean)


def nearest_mode(x):
    return torch.cdist(x, MEANS).argmin(1)


def test_exact_score_matches_autograd_of_the_smoothed_density():
    x = torch.randn(5, 2, dtype=torch.float64, requires_grad=True)
    sigma = torch.full((5,), 0.4, dtype=torch.float64)
    var = STDS.square()[None] + 0.16
    logp = torch.logsumexp(WEIGHTS.log() - (MEANS[None] - x[:, None]).square().sum(-1) / (2 * var)
                           - var.log() - math.log(2 * math.pi), dim=1)
    (g,) = torch.autograd.grad(logp.sum(), x)
    assert torch.allclose(mixture_score(x.detach(), sigma), g, atol=1e-12)


def run_annealed(n=4000, seed=0, **options):
    gen = torch.Generator().manual_seed(seed)
    data, _ = mixture_samples(2000, gen)
    top = float(largest_pairwise_distance(data))  # NCSNv2's sigma_1
    sigmas = geometric_sigmas(top, 0.01, options.pop("levels", 20))
    sampler = AnnealedLangevin(sigmas, **options)
    torch.manual_seed(seed)
    x0 = top * torch.randn(n, 2, dtype=torch.float64)
    return sampler(mixture_score, x0), sampler


def test_annealed_langevin_reproduces_mixture_weights_and_moments():
    n = 4000
    x, sampler = run_annealed(n, eps=2e-5, n_steps=100)
    assert sampler.nfe == 20 * 100 + 1
    shares = torch.bincount(nearest_mode(x), minlength=3).double() / n
    # why: multinomial standard error sqrt(p (1 - p) / n) <= 0.008; 4 standard errors
    se = (WEIGHTS * (1 - WEIGHTS) / n).sqrt()
    assert torch.all((shares - WEIGHTS).abs() < 4 * se), shares
    mean, cov = moments()
    # why: the sample mean's standard error is sqrt(var / n) per coordinate; 4 standard errors
    assert torch.all((x.mean(0) - mean).abs() < 4 * (cov.diagonal() / n).sqrt()), x.mean(0)
    # covariance: compare with the spread of the same statistic over exact samples of size n
    exact = [torch.cov(mixture_samples(n, torch.Generator().manual_seed(100 + r))[0].T) for r in range(50)]
    spread = torch.stack(exact).std(0)
    assert torch.all((torch.cov(x.T) - cov).abs() < 4 * spread + 1e-3), torch.cov(x.T)
    # within-mode spread: each component's standard deviation recovered (denoised chains)
    k = nearest_mode(x)
    for j in range(3):
        got = (x[k == j] - MEANS[j]).std()
        assert got == pytest.approx(float(STDS[j]), rel=0.08), (j, got)


def test_langevin_at_the_smallest_level_alone_gets_the_weights_wrong():
    """The reason for annealing (Song & Ermon 2019, sec. 3.2.2): without the large levels, chains from
    a broad start stay in the mode they fall into, so shares follow basins, not weights. Guards the
    test above against passing for a sampler that ignores the levels."""
    x, _ = run_annealed(4000, levels=2, eps=2e-5, n_steps=200)
    shares = torch.bincount(nearest_mode(x), minlength=3).double() / 4000
    assert (shares - WEIGHTS).abs().max() > 0.05, shares
