"""The VAE's likelihood estimators against probabilistic PCA, where log p(x) is exact."""

import math

import pytest
import torch

from genlab.eval.metrics import importance_sampled_log_likelihood
from genlab.models.vae.model import VAE

D, LATENT, SIGMA = 6, 3, 0.5


def linear_gaussian_vae(mean_scale: float = 1.0, std_scale: float = 1.0):
    """A VAE whose decoder is x = W z + mu + sigma * eps, W with orthogonal columns.

    Then p(x) = N(mu, W W^T + sigma^2 I) and the exact posterior is diagonal: mean
    M^-1 W^T (x - mu), variance sigma^2 M^-1 with M = W^T W + sigma^2 I. The encoder is set to that
    posterior, optionally mis-specified by scaling its mean and std.
    """
    torch.manual_seed(0)
    vae = VAE(VAE.Config(latent_dim=LATENT, depth=0, decoder="gaussian", min_log_std=-20.0), (D,)).double()
    q, _ = torch.linalg.qr(torch.randn(D, LATENT, dtype=torch.float64))
    w = q * torch.tensor([2.0, 1.0, 0.5], dtype=torch.float64)
    mu = torch.randn(D, dtype=torch.float64)
    m = torch.diag(w.T @ w) + SIGMA**2  # diagonal because W's columns are orthogonal
    enc, dec = vae.encoder[1][0], vae.decoder.net[0]
    with torch.no_grad():
        dec.weight.copy_(w)
        dec.bias.copy_(mu)
        vae.raw_log_std.fill_(math.log(SIGMA))  # softplus(raw - floor) + floor == raw for floor -20
        enc.weight.zero_()
        enc.bias.zero_()
        enc.weight[:LATENT] = mean_scale * (w / m).T
        enc.bias[:LATENT] = -mean_scale * (w / m).T @ mu
        enc.bias[LATENT:] = 0.5 * torch.log(SIGMA**2 / m) + math.log(std_scale)
    cov = w @ w.T + SIGMA**2 * torch.eye(D, dtype=torch.float64)
    return vae, torch.distributions.MultivariateNormal(mu, cov)


def test_exact_posterior_gives_exact_likelihood():
    vae, p = linear_gaussian_vae()
    x = p.sample((50,))
    exact = p.log_prob(x)
    assert torch.allclose(vae.decoder_log_std(), torch.full((D,), math.log(SIGMA), dtype=torch.float64))
    est = vae.likelihood_estimates(x, importance_samples=7)
    # with q = the true posterior every importance weight equals p(x): zero-variance estimator
    assert torch.allclose(est["log_likelihood_is"], exact, atol=1e-8)
    # the closed-form-KL ELBO is exact only in expectation (its reconstruction term is sampled)
    elbo = vae.elbo(x.repeat(4000, 1))[0].view(4000, 50).mean(0)
    assert torch.allclose(elbo, exact, atol=0.05) and est["elbo"].shape == (50,)


def test_importance_sampling_converges_from_below():
    vae, p = linear_gaussian_vae(mean_scale=0.9, std_scale=math.sqrt(2))
    torch.manual_seed(1)
    x = p.sample((200,))
    exact = p.log_prob(x).mean().item()
    bounds = {}
    for k in (1, 10, 100, 2000):
        bounds[k] = importance_sampled_log_likelihood(vae.log_weights, x, k, chunk=250).mean().item()
    elbo = vae.elbo(x)[0].mean().item()
    assert elbo < exact and bounds[1] < exact
    assert bounds[1] < bounds[10] < bounds[100] < bounds[2000] <= exact + 1e-3
    assert exact - bounds[2000] < 0.02 < exact - bounds[1]
    assert abs(bounds[1] - elbo) < 0.1  # K = 1 is the single-sample ELBO (MC vs closed-form KL)


def test_chunking_does_not_change_the_estimate():
    vae, p = linear_gaussian_vae(mean_scale=0.8)
    x = p.sample((5,))
    torch.manual_seed(3)
    one = importance_sampled_log_likelihood(vae.log_weights, x, 60, chunk=60)
    torch.manual_seed(3)
    lw = vae.log_weights(x, 60)
    assert torch.allclose(one, torch.logsumexp(lw, 0) - math.log(60))
    torch.manual_seed(4)
    many = importance_sampled_log_likelihood(vae.log_weights, x, 60, chunk=7)
    assert many.shape == (5,) and torch.isfinite(many).all()


@pytest.mark.parametrize("net, shape", [("mlp", (1, 8, 8)), ("conv", (1, 8, 8)), ("conv", (1, 28, 28)),
                                        ("conv", (3, 32, 32))])
def test_shapes_and_iwae_step(net, shape):
    vae = VAE(VAE.Config(latent_dim=4, net=net, hidden=8, iwae_k=3), shape)
    x = torch.rand(2, *shape)
    update = next(vae.train_step({"x": x}, None))
    assert update.groups == ("model",) and update.loss.ndim == 0
    update.loss.backward()
    assert vae.sample(5).shape == (5, *shape)
    with pytest.raises(ValueError, match="built for examples of shape"):
        vae.encode(torch.rand(2, 1, 9, 9))


def test_bernoulli_decoder_is_a_probability():
    vae = VAE(VAE.Config(latent_dim=2, decoder="bernoulli", hidden=8), (4,))
    x = torch.bernoulli(torch.full((3, 4), 0.5))
    ll = vae.likelihood_estimates(x, importance_samples=50)["log_likelihood_is"]
    assert (ll < 0).all()
    # summing p(x) over all 16 binary images of 4 pixels gives at most 1 (an estimate of 1)
    grid = torch.tensor([[int(b) for b in f"{i:04b}"] for i in range(16)], dtype=torch.float32)
    torch.manual_seed(0)
    total = vae.likelihood_estimates(grid, importance_samples=4000)["log_likelihood_is"].exp().sum()
    assert abs(total.item() - 1.0) < 0.05


def test_importance_chunk_from_row_budget_gives_the_same_values():
    torch.manual_seed(0)
    calls = []

    def log_weights(x, m):  # deterministic per proposal index, so chunking cannot change the draws
        calls.append(m)
        start = sum(calls[:-1])
        idx = torch.arange(start, start + m, dtype=torch.float64)[:, None]
        return torch.sin(idx * 0.37 + x.sum(1)[None]) * 3

    x = torch.randn(40, 3)
    fixed = importance_sampled_log_likelihood(log_weights, x, 1000, chunk=1000)
    calls.clear()
    budget = importance_sampled_log_likelihood(log_weights, x, 1000, row_budget=4000)
    assert calls == [100] * 10  # 4000 rows / 40 examples per call
    assert torch.allclose(fixed, budget, rtol=1e-12, atol=1e-12)
    calls.clear()
    importance_sampled_log_likelihood(log_weights, torch.randn(20000, 3), 3)
    assert calls == [1, 1, 1]  # a batch above the budget: one proposal per call
