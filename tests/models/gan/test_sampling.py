"""Latent samplers: prior, truncation and the hubness prior (spec section 12)."""

import pytest
import torch

from genlab.adversarial import HubnessLatentSampler, sample_prior, truncated_normal
from genlab.core.errors import ConfigError
from genlab.models.gan.model import GAN


def test_hub_values_are_k_occurrences():
    torch.manual_seed(0)
    z = torch.randn(300, 16)
    s = HubnessLatentSampler(16, k=5, pool=300, chunk=64)
    hub = s.hub_values(z)
    # brute force: count how often each point is among the others' 5 nearest neighbours
    d = torch.cdist(z, z)
    d.fill_diagonal_(float("inf"))
    expect = torch.bincount(d.topk(5, largest=False).indices.flatten(), minlength=300)
    assert torch.equal(hub, expect) and int(hub.sum()) == 300 * 5


def test_hubness_acceptance_rate_at_d128():
    torch.manual_seed(0)
    # spec: ~1.4 % kept at d=128 with pool 10000; a 5000 pool (faster) keeps about as many
    s = HubnessLatentSampler(128, k=5, threshold=50, pool=5000)
    z = s(40)
    assert z.shape == (40, 128)
    assert 0.008 <= s.acceptance_rate <= 0.025
    # hubs lie closer to the centre than typical draws (a truncation-like effect)
    assert float(z.norm(dim=1).mean()) < float(torch.randn(2000, 128).norm(dim=1).mean()) - 1.0


def test_no_hubs_in_low_dimension():
    torch.manual_seed(0)
    s = HubnessLatentSampler(4, pool=2000, max_pools=2)
    with pytest.raises(ConfigError, match="quantile"):
        s(10)
    assert s.acceptance_rate == 0
    # a quantile threshold always keeps the top of each pool
    q = HubnessLatentSampler(4, pool=2000, quantile=0.95)
    assert q(10).shape == (10, 4) and 0 < q.acceptance_rate <= 0.05


def test_prior_and_truncation():
    torch.manual_seed(0)
    t = truncated_normal(5000, 4, 0.5)
    assert float(t.abs().max()) <= 0.5 and float(t.std()) < 0.35
    u = sample_prior(1000, 3, "uniform")
    assert float(u.min()) >= -1 and float(u.max()) <= 1
    with pytest.raises(ConfigError, match="normal, uniform"):
        sample_prior(2, 2, "laplace")


def test_model_sampling_uses_configured_sampler():
    torch.manual_seed(0)
    model = GAN(GAN.Config(latent_dim=64, hidden=8, depth=1, sampler="hubness", hub_pool=1000,
                           hub_quantile=0.9), (2,))
    assert model.sample(7).shape == (7, 2)
    model = GAN(GAN.Config(latent_dim=4, hidden=8, depth=1, sampler="truncated", truncation=0.1), (2,))
    z = model.latents_for_sampling(100)
    assert float(z.abs().max()) <= 0.1
