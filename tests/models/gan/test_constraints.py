"""Lipschitz constraints: gradient / finite-difference / R1 penalties, clipping, SN, GN and GraN."""

import pytest
import torch
from torch import nn

from genlab.adversarial import (
    CriticConfig,
    GradNormCritic,
    apply_spectral_norm,
    clip_weights_,
    finite_difference_penalty,
    finite_difference_ratio,
    gradient_penalty,
    r1_penalty,
)
from genlab.adversarial.spectral import spectral_normalized_layers
from genlab.core.errors import ConfigError
from genlab.models.gan.model import GAN
from genlab.nets import ResNetCritic, dcgan_critic, mlp_critic


def linear_critic(w: torch.Tensor) -> nn.Module:
    lin = nn.Linear(w.numel(), 1).double()
    with torch.no_grad():
        lin.weight.copy_(w.view(1, -1))
        lin.bias.fill_(0.3)
    return lin


@pytest.mark.parametrize("scale", [0.4, 1.0, 2.5])
def test_gradient_penalty_on_linear_critic_is_exact(scale):
    torch.manual_seed(0)
    w = torch.randn(6, dtype=torch.float64)
    w = w / w.norm() * scale
    critic = linear_critic(w)
    real, fake = torch.randn(32, 6, dtype=torch.float64), torch.randn(32, 6, dtype=torch.float64)
    expect = (w.norm() - 1) ** 2
    assert torch.allclose(gradient_penalty(critic, real, fake), expect, atol=1e-10)
    one_sided = gradient_penalty(critic, real, fake, mode="one_sided")
    assert torch.allclose(one_sided, expect if scale > 1 else torch.zeros(()).double(), atol=1e-10)
    # images: the norm is over all non-batch dims
    img = linear_critic(w.repeat(4))
    shaped = nn.Sequential(nn.Flatten(), img)
    r, f = torch.randn(8, 1, 4, 6).double(), torch.randn(8, 1, 4, 6).double()
    assert torch.allclose(gradient_penalty(shaped, r, f), (2 * w.norm() - 1) ** 2, atol=1e-10)
    # the penalty trains the critic: its gradient w.r.t. w is 2 (|w| - 1) w / |w|
    (g,) = torch.autograd.grad(gradient_penalty(critic, real, fake), critic.weight)
    assert torch.allclose(g.flatten(), 2 * (w.norm() - 1) * w / w.norm(), atol=1e-9)
    assert torch.allclose(r1_penalty(critic, real), 0.5 * w.norm() ** 2, atol=1e-10)


def test_finite_difference_ratio_closed_form():
    torch.manual_seed(1)
    w = torch.randn(5, dtype=torch.float64)
    critic = linear_critic(w)
    y1, y2 = torch.randn(20, 5, dtype=torch.float64), torch.randn(20, 5, dtype=torch.float64)
    expect = ((y1 - y2) @ w).abs() / (y1 - y2).norm(dim=1)
    assert torch.allclose(finite_difference_ratio(critic, y1, y2), expect, atol=1e-10)
    # on a real-fake segment every pair of points has the slope |w.(real - fake)| / |real - fake|
    real, fake = torch.randn(20, 5, dtype=torch.float64), torch.randn(20, 5, dtype=torch.float64)
    slope = ((real - fake) @ w).abs() / (real - fake).norm(dim=1)
    pen = finite_difference_penalty(critic, real, fake)
    assert torch.allclose(pen, ((slope - 1) ** 2).mean(), atol=1e-8)


def test_weight_clipping():
    net = mlp_critic((2,), 16, 2)
    for p in net.parameters():
        nn.init.normal_(p, std=1.0)
    clip_weights_(net, 0.01)
    assert all(float(p.detach().abs().max()) <= 0.01 for p in net.parameters())


def top_singular_value(layer: nn.Module) -> float:
    w = layer.weight  # the parametrized (normalised) weight
    if isinstance(layer, nn.ConvTranspose2d):
        w = w.transpose(0, 1)
    return float(torch.linalg.matrix_norm(w.detach().flatten(1), ord=2))


@pytest.mark.parametrize("critic,shape", [
    (lambda: mlp_critic((2,), 32, 3), (2,)),
    (lambda: dcgan_critic((1, 8, 8), 8), (1, 8, 8)),
    (lambda: ResNetCritic((3, 16, 16), 8), (3, 16, 16)),
])
def test_spectral_norm_layers_have_unit_norm(critic, shape):
    torch.manual_seed(0)
    net = critic()
    for m in net.modules():  # make the raw weights far from norm 1
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            with torch.no_grad():
                m.weight.mul_(7.0)
    raw = [float(torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2)) for m in net.modules()
           if isinstance(m, (nn.Linear, nn.Conv2d))]
    apply_spectral_norm(net)
    layers = spectral_normalized_layers(net)
    assert len(layers) == len(raw) and max(raw) > 2
    for _ in range(100):  # one power-iteration step per training-mode forward, as in training
        net(torch.randn(2, *shape))
    for layer in layers:
        assert top_singular_value(layer) == pytest.approx(1.0, abs=1e-3)


def test_spectral_norm_power_iteration_tracks_training():
    """After the raw weight changes, a few training-mode forwards re-converge the estimate."""
    torch.manual_seed(0)
    net = apply_spectral_norm(mlp_critic((2,), 32, 2))
    lin = spectral_normalized_layers(net)[0]
    with torch.no_grad():
        lin.parametrizations.weight.original.add_(torch.randn(32, 2))
    for _ in range(30):
        net(torch.randn(8, 2))
    assert top_singular_value(lin) == pytest.approx(1.0, abs=1e-3)


def piecewise_linear_critic() -> nn.Module:
    torch.manual_seed(3)
    return nn.Sequential(nn.Linear(4, 64), nn.LeakyReLU(0.2), nn.Linear(64, 64), nn.ReLU(),
                         nn.Linear(64, 1)).double()


def test_gradient_normalized_critic_is_bounded_with_bounded_slope_per_region():
    base = piecewise_linear_critic()
    with torch.no_grad():  # scale up so the raw critic's slope is far above 1
        base[0].weight.mul_(100)
    x = (3 * torch.randn(256, 4, dtype=torch.float64)).requires_grad_(True)
    raw = base(x).flatten()
    (g_raw,) = torch.autograd.grad(raw.sum(), x)
    assert float(g_raw.norm(dim=1).max()) > 5
    gn = GradNormCritic(base, "gn")
    f = gn(x)
    (g,) = torch.autograd.grad(f.sum(), x)
    assert f.shape == (256,) and float(f.detach().abs().max()) < 1
    assert float(g.norm(dim=1).max()) <= 1 + 1e-9
    # inside a linear region grad f_hat = g |g| / (|g| + |f|)^2 exactly (GN-GAN eq. 10)
    expect = g_raw.norm(dim=1) ** 2 / (g_raw.norm(dim=1) + raw.abs()) ** 2
    assert torch.allclose(g.norm(dim=1), expect.detach(), atol=1e-6)
    # GraN: |grad| = k |g|^2 / (|g|^2 + eps) <= k
    gran = GradNormCritic(base, "gran", k=2.0)
    (g2,) = torch.autograd.grad(gran(x).sum(), x)
    assert float(g2.norm(dim=1).max()) <= 2 + 1e-9 and float(g2.norm(dim=1).min()) > 1.9
    # parameters receive gradients through the normalised score (double backprop)
    gn(x.detach()).sum().backward()
    assert base[0].weight.grad is not None and float(base[0].weight.grad.abs().sum()) > 0
    with pytest.raises(ConfigError, match="gn, gran"):
        GradNormCritic(base, "wgan")


class _Kinked(nn.Module):
    """f(x) = 1 + 2x for x < 0 and 1 + x/2 for x > 0: continuous, slopes 2 and 1/2."""

    def forward(self, x):
        return (1 + 2 * x - 1.5 * torch.relu(x)).flatten()


@pytest.mark.parametrize("mode, left, right", [("gn", 1 / 3, 2 / 3), ("gran", 0.5, 2.0)])
def test_gradient_normalized_critic_is_only_piecewise_lipschitz(mode, left, right):
    # at x = 0 GN gives f / (|f'| + |f|) = 1/3 from the left, 2/3 from the right; GraN f / |f'| = 1/2
    # and 2: a jump, so no global Lipschitz constant, although each piece has slope <= K = 1
    critic = GradNormCritic(_Kinked(), mode, eps=0.0)
    x = torch.tensor([[-1e-9], [1e-9]], dtype=torch.float64)
    f = critic(x).detach()
    assert torch.allclose(f, torch.tensor([left, right], dtype=torch.float64), atol=1e-6)
    assert float((f[1] - f[0]).abs() / 2e-9) > 1e6


def test_batch_norm_refused_with_input_gradient_constraints():
    for extra in ({"penalty": "gp"}, {"penalty": "fd"}, {"grad_norm": "gn"}, {"r1_weight": 1.0}):
        with pytest.raises(ConfigError, match="critic.norm"):
            GAN(GAN.Config(critic=CriticConfig(norm="batch", **extra)), (2,))
    # layer norm is fine, and batch norm without input gradients
    GAN(GAN.Config(critic=CriticConfig(norm="layer", penalty="gp"), hidden=8, depth=1), (2,))
    GAN(GAN.Config(critic=CriticConfig(norm="batch"), hidden=8, depth=1), (2,))
