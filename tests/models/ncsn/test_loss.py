"""Denoising score matching against closed forms for Gaussian data.

x ~ N(mu, s^2 I) in D dimensions smoothed by sigma is N(mu, (s^2 + sigma^2) I), whose score is
-(x~ - mu) / (s^2 + sigma^2). With x~ = x + sigma z and x = mu + s u:
sigma s*(x~) + z = (s^2 z - sigma s u) / (s^2 + sigma^2), so the weighted loss
sigma^2 l = 1/2 E ||sigma s* + z||^2 has the minimum 1/2 D s^2 / (s^2 + sigma^2) (its irreducible part:
DSM = explicit score matching + this constant, Vincent 2011).
"""

import pytest
import torch

from genlab.core.protocol import StepContext
from genlab.models.ncsn import NCSN, dsm_loss

D, MU, S = 3, torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64), 0.7


def gaussian_data(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = MU + S * torch.randn(n, D, generator=g, dtype=torch.float64)
    z = torch.randn(n, D, generator=g, dtype=torch.float64)
    return x, z


def linear_score(mean, precision):
    """s(x~, sigma) = -precision (x~ - mean): the exact score for precision 1 / (s^2 + sigma^2)."""
    return lambda x, sigma: -precision * (x - mean)


@pytest.mark.parametrize("sigma", [0.05, 0.5, 3.0])
def test_exact_score_attains_the_closed_form_minimum(sigma):
    n = 400_000
    x, z = gaussian_data(n)
    sig = torch.full((n,), sigma, dtype=torch.float64)
    per = dsm_loss(linear_score(MU, 1 / (S**2 + sigma**2)), x, sig, z)
    floor = 0.5 * D * S**2 / (S**2 + sigma**2)
    # why: the Monte-Carlo mean's standard error, 5 of them
    assert float(per.mean()) == pytest.approx(floor, abs=5 * float(per.std()) / n**0.5)


@pytest.mark.parametrize("sigma", [0.1, 1.0])
def test_gradient_vanishes_at_the_exact_score_and_not_elsewhere(sigma):
    n = 400_000
    x, z = gaussian_data(n, seed=1)
    sig = torch.full((n,), sigma, dtype=torch.float64)

    def grads(mean, precision):
        m = mean.clone().requires_grad_(True)
        p = torch.tensor(precision, dtype=torch.float64, requires_grad=True)
        per = dsm_loss(linear_score(m, p), x, sig, z)
        g = torch.autograd.grad(per.mean(), (m, p))
        return torch.cat([g[0], g[1][None]]).detach()

    best = 1 / (S**2 + sigma**2)
    g = grads(MU, best)
    g_off = grads(MU + 0.5, best * 1.5)
    # why: at the optimum only Monte-Carlo noise is left (~5e-4 at n = 4e5), 25x below the gradient a
    # modest error in the mean or the precision gives
    assert g.abs().max() < 0.04 * g_off.abs().max(), (g, g_off)


def test_model_trains_on_this_loss_with_sigma_squared_weights():
    """The model's training loss is dsm_loss at one random level per example (same random draws)."""
    model = NCSN(NCSN.Config(hidden=8, depth=1, levels=4, sigma_max=2.0), (2,))
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(0)
    (update,) = model.train_step({"x": x}, StepContext(0))
    torch.manual_seed(0)
    levels = torch.tensor(model.sigmas)
    sigma = levels[torch.randint(4, (64,))]
    want = dsm_loss(model.score, x, sigma, torch.randn_like(x)).mean()
    assert torch.allclose(update.loss, want)
    # the weighting: sigma^2 l = 1/2 ||sigma s + z||^2, i.e. l = 1/2 ||s + (x~ - x) / sigma^2||^2
    # (in float64: x~ - x loses digits in float32 at sigma_L = 0.01)
    model, x, sigma = model.double(), x.double(), sigma.double()
    z = torch.randn_like(x)
    xt = x + sigma[:, None] * z
    direct = 0.5 * sigma.square() * (model.score(xt, sigma) + (xt - x) / sigma[:, None] ** 2).square().sum(1)
    assert torch.allclose(dsm_loss(model.score, x, sigma, z), direct, rtol=1e-10)
