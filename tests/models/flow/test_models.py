"""Flow models: exact log-likelihood, identity init, reconstruction, sampling, bits/dim, errors."""

from __future__ import annotations

import math

import pytest
import torch
from torch.autograd.functional import jacobian

from genlab.core.errors import ConfigError
from genlab.data import Pixels
from genlab.eval.metrics.likelihood import bits_per_dim
from genlab.models import MODELS

torch.set_num_threads(1)

SMALL = {
    "nice": dict(hidden=16, depth=1, couplings=4),
    "realnvp": dict(hidden=8, depth=1, couplings=2, levels=2),
    "glow": dict(hidden=8, depth=1, levels=2, steps=2),
}
SHAPES = [(2,), (1, 4, 4)]


def build(name: str, shape, **kw):
    cls = MODELS.get(name)
    return cls(cls.Config(**{**SMALL[name], **kw}), shape)


def std_normal(x: torch.Tensor) -> torch.Tensor:
    return torch.distributions.Normal(0.0, 1.0).log_prob(x).flatten(1).sum(1)


@pytest.mark.parametrize("name", sorted(SMALL))
@pytest.mark.parametrize("shape", SHAPES, ids=["vector", "image"])
def test_identity_initialised_flow_is_standard_normal(name, shape):
    """Zero-initialised couplings (tanh scale), un-initialised ActNorm, zero priors: log p(x) is exactly
    N(0, I). Glow's 1x1 convs start as random rotations, which leave N(0, I) unchanged."""
    torch.manual_seed(0)
    kw = {} if name == "nice" else {"scale": "tanh"}
    model = build(name, shape, **kw).eval()
    x = torch.randn(7, *shape)
    torch.testing.assert_close(model.log_likelihood(x), std_normal(x), atol=2e-5, rtol=1e-6)


@pytest.mark.parametrize("name", sorted(SMALL))
@pytest.mark.parametrize("shape", SHAPES, ids=["vector", "image"])
def test_log_likelihood_is_exact_change_of_variables(name, shape):
    """log p(x) = log N(eps(x)) + log|det d eps/dx| with eps all standardised latents concatenated."""
    torch.manual_seed(0)
    model = build(name, shape).double()
    model.train()
    model.log_likelihood(torch.rand(32, *shape, dtype=torch.float64))  # ActNorm data init
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    model.eval()
    x = torch.rand(2, *shape, dtype=torch.float64)
    ll = model.log_likelihood(x)
    for i in range(2):
        def latents(v):
            return torch.cat([z.flatten() for z in model.encode(v.view(1, *shape))])
        eps = latents(x[i])
        jac = jacobian(latents, x[i].flatten())
        expected = std_normal(eps.view(1, -1)) + torch.linalg.slogdet(jac)[1]
        assert abs(float(ll[i].detach()) - float(expected.detach())) < 1e-4
    torch.testing.assert_close(model.reconstruct(x), x, atol=1e-8, rtol=1e-8)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_sampling_and_temperature(name):
    torch.manual_seed(0)
    model = build(name, (1, 8, 8)).eval()
    assert model.sample(5).shape == (5, 1, 8, 8)
    torch.manual_seed(1)
    cold = model.sample(5, temperature=0.0)
    assert torch.isfinite(cold).all()
    torch.testing.assert_close(cold[0], cold[1])  # T = 0: every latent is the mode
    torch.manual_seed(1)
    assert not torch.equal(model.sample(5, temperature=0.7)[0], model.sample(5, temperature=0.7)[1])


def test_bits_per_dim_matches_hand_computation_for_tiny_flow():
    """NICE with zero couplings is z = x * exp(s): log p(x) = sum_d [log N(x_d e^{s_d}) + s_d].
    On 8-bit data y = (x + u)/256: bpd = -(log p(y) - D log 256) / (D ln 2); with a logit transform
    the per-pixel log|dz/dy| = log(1 - 2a) - log s - log(1 - s) is added first."""
    model = build("nice", (1, 2, 2)).eval()
    s = torch.tensor([0.5, -0.25, 1.0, 0.0])
    with torch.no_grad():
        model.flow.stages[0].layers[-1].log_scale.copy_(s)
    pixels_int = [0, 17, 128, 255]
    u = [0.5, 0.25, 0.75, 0.1]
    y = torch.tensor([(p + v) / 256 for p, v in zip(pixels_int, u)]).view(1, 1, 2, 2)

    def log_normal(v):
        return -0.5 * v * v - 0.5 * math.log(2 * math.pi)

    yl = y.flatten().tolist()
    sl = s.tolist()
    log_p = sum(log_normal(v * math.exp(k)) + k for v, k in zip(yl, sl))
    hand = -(log_p - 4 * math.log(256)) / (4 * math.log(2))
    got = bits_per_dim(model.log_likelihood(y), y, Pixels(256))
    assert abs(float(got.detach()) - hand) < 1e-5

    a = 0.05
    pix = Pixels(256, logit_alpha=a)
    z = torch.logit(a + (1 - 2 * a) * y)
    log_pz = sum(log_normal(v * math.exp(k)) + k for v, k in zip(z.flatten().tolist(), sl))
    jac = sum(math.log(1 - 2 * a) - math.log(q) - math.log(1 - q)
              for q in (a + (1 - 2 * a) * v for v in yl))
    hand_logit = -(log_pz + jac - 4 * math.log(256)) / (4 * math.log(2))
    got_logit = bits_per_dim(model.log_likelihood(z), z, pix)
    assert abs(float(got_logit.detach()) - hand_logit) < 1e-4


def test_uniform_density_on_unit_cube_gives_eight_bits():
    """Sanity of the convention: a density of 1 on [0, 1)^D is exactly 8 bpd for 8-bit data."""
    y = torch.rand(3, 1, 2, 2)
    torch.testing.assert_close(bits_per_dim(torch.zeros(3), y, Pixels(256)), torch.full((3,), 8.0))


def test_training_step_reduces_loss():
    torch.manual_seed(0)
    model = build("realnvp", (2,))
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    a = torch.randn(256)
    x = torch.stack([a, a**2 + 0.1 * torch.randn(256)], 1)  # a parabola: far from Gaussian
    from genlab.models import StepContext
    losses = []
    for i in range(30):
        (u,) = list(model.train_step({"x": x}, StepContext(i)))
        opt.zero_grad()
        u.loss.backward()
        opt.step()
        losses.append(u.loss.item())
    assert losses[-1] < losses[0] - 0.3


def test_bad_configs_and_inputs():
    with pytest.raises(ConfigError, match="divisible by 8"):
        build("glow", (1, 28, 28), levels=3)
    with pytest.raises(ConfigError, match="divisible by 4"):
        build("realnvp", (1, 6, 6), levels=3)
    with pytest.raises(ConfigError, match="model.mixing"):
        build("glow", (1, 4, 4), mixing="lu")
    with pytest.raises(ConfigError, match="needs vector data"):
        build("glow", (2, 3))
    model = build("glow", (1, 4, 4))
    with pytest.raises(ValueError, match=r"shape \(1, 4, 4\)"):
        model.log_likelihood(torch.zeros(2, 1, 8, 8))
    assert build("glow", (1, 28, 28), flatten=True).sample(2).shape == (2, 1, 28, 28)


@pytest.mark.parametrize("name", sorted(SMALL))
@pytest.mark.parametrize("shape", SHAPES, ids=["vector", "image"])
def test_float64_flow_samples_and_scores_in_float64(name, shape):
    """Latents, samples and log p follow the parameters' dtype (no float32 draw or log-det)."""
    torch.manual_seed(0)
    model = build(name, shape).double()
    model.log_likelihood(torch.rand(8, *shape, dtype=torch.float64))  # ActNorm data init
    model.eval()
    assert all(z.dtype == torch.float64 for z in model.flow.sample_latents(3))
    with torch.no_grad():
        x = model.sample(5)
        ll = model.log_likelihood(x)
    assert x.dtype == ll.dtype == torch.float64 and x.shape == (5, *shape)
    assert bool(torch.isfinite(ll).all())
