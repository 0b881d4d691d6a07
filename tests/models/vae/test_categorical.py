"""The VAE with categorical latents: KL, relaxation gradients, and likelihoods of the discrete
model against exact enumeration of all codes."""

import itertools
import json
import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Categorical, kl_divergence

from genlab.cli import main
from genlab.core.errors import ConfigError
from genlab.core.typed import build_dataclass
from genlab.distributions import noise_argmax_probs
from genlab.models.vae.model import VAE

GROUPS, K = 2, 3


def cat_vae(shape=(4,), **options):
    torch.manual_seed(0)
    cfg = VAE.Config(latent_type="categorical", latent_dim=GROUPS, categories=K, hidden=16, depth=1,
                     **options)
    return VAE(cfg, shape).double()


@pytest.mark.parametrize("noise", ["gumbel", "gaussian"])
def test_kl_matches_torch_categorical(noise):
    vae = cat_vae(noise=noise)
    logits = 2 * torch.randn(5, GROUPS, K, dtype=torch.float64)
    # q is the law of argmax(logits + noise): softmax for Gumbel, the probit quadrature for Gaussian
    probs = torch.softmax(logits, -1) if noise == "gumbel" else noise_argmax_probs(logits, "gaussian",
                                                                                  renormalize=True)
    expected = kl_divergence(Categorical(probs=probs), Categorical(logits=torch.zeros(K))).sum(-1)
    assert torch.allclose(vae.latent.kl(logits), expected, atol=1e-10)


@pytest.mark.parametrize("relaxation", ["gumbel_softmax", "straight_through"])
def test_reconstruction_gradient_flows_through_the_relaxation(relaxation):
    vae = cat_vae(relaxation=relaxation, temperature=0.5)
    x = torch.randn(8, 4, dtype=torch.float64)
    z = vae.latent.rsample(vae.encode(x))
    if relaxation == "straight_through":
        assert set(z.unique().tolist()) <= {0.0, 1.0}  # exact one-hots forward
    assert torch.allclose(z.view(8, GROUPS, K).sum(-1), torch.ones(8, GROUPS, dtype=torch.float64))
    recon = vae.log_px_given_z(x, vae.decode(z)).sum()
    grads = torch.autograd.grad(recon, list(vae.encoder.parameters()))
    assert all(torch.isfinite(g).all() for g in grads) and any(g.abs().sum() > 0 for g in grads)


def exact_log_px(vae, x):
    """log p(x) = log sum over all K^groups one-hot codes of p(x|z) p(z), p(z) uniform."""
    codes = torch.stack([F.one_hot(torch.tensor(c), K).flatten().double()
                         for c in itertools.product(range(K), repeat=GROUPS)])  # (K^G, G*K)
    b = len(x)
    out = vae.decode(codes)  # (K^G, D)
    log_px = vae.log_px_given_z(x.repeat_interleave(len(codes), 0), out.repeat(b, 1)).view(b, -1)
    return torch.logsumexp(log_px, 1) - GROUPS * math.log(K), log_px


def test_importance_sampling_and_elbo_match_enumeration():
    vae = cat_vae()
    torch.manual_seed(1)
    x = torch.randn(6, 4, dtype=torch.float64)
    exact, log_px_all = exact_log_px(vae, x)
    est = vae.likelihood_estimates(x, importance_samples=4000)
    assert torch.allclose(est["log_likelihood_is"], exact, atol=0.02)
    # ELBO = E_q log p(x|z) - KL(q || uniform), E_q by enumerating the codes' q(z|x) = prod_g q_g
    log_q = torch.log_softmax(vae.encode(x), -1)  # (B, G, K)
    log_q_codes = torch.stack([log_q[:, 0, i] + log_q[:, 1, j]
                               for i, j in itertools.product(range(K), repeat=GROUPS)], 1)
    elbo_exact = (log_q_codes.exp() * log_px_all).sum(1) - vae.latent.kl(vae.encode(x))
    mc = vae.elbo(x.repeat(3000, 1), relaxed=False)[0].view(3000, -1).mean(0)  # exact one-hot draws
    assert torch.allclose(mc, elbo_exact, atol=0.05)
    assert (elbo_exact < exact).all()


def test_prior_samples_and_train_step():
    vae = VAE(VAE.Config(latent_type="categorical", latent_dim=3, categories=5, hidden=8, depth=1),
              (1, 8, 8))
    z = vae.latent.prior(100, torch.zeros(()))
    assert z.shape == (100, 15) and torch.equal(z.view(100, 3, 5).sum(-1), torch.ones(100, 3))
    assert vae.sample(4).shape == (4, 1, 8, 8)
    update = next(vae.train_step({"x": torch.rand(4, 1, 8, 8)}, None))
    assert update.groups == ("model",) and set(update.logs) == {"loss", "recon", "kl"}
    update.loss.backward()
    assert all(p.grad is not None for p in vae.parameters() if p.requires_grad)


def test_bad_options():
    with pytest.raises(ValueError, match="model.iwae_k must be 1 with model.latent_type=categorical"):
        VAE.Config(latent_type="categorical", iwae_k=5)
    with pytest.raises(ConfigError, match="unknown model.latent_type 'beta'; choose one of: gaussian, categ"):
        build_dataclass(VAE.Config, {"latent_type": "beta"}, "model.")  # the YAML / override path
    with pytest.raises(ValueError, match="model.categories"):
        VAE.Config(latent_type="categorical", categories=1)


def test_preset_smoke(tmp_path):
    run = tmp_path / "run"
    overrides = ["train.steps=3", "train.log_every=1", "train.ckpt_every=0", "train.sample_every=0",
                 "train.n_samples=8", "train.progress=false", "train.device=cpu", "model.hidden=8",
                 "data.batch_size=8"]
    assert main(["train", "vae-categorical-digits", "--out", str(run), *overrides]) == 0
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if "kl" in r]
    assert len(steps) == 3 and all(math.isfinite(r["loss"]) and r["kl"] >= 0 for r in steps)
    assert list((run / "samples").glob("*.png"))
