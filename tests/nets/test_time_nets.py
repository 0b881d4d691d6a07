"""Time-conditioned nets: shapes, dependence on t, gradients, odd image sizes, the torchcfm twin."""

from __future__ import annotations

import math

import pytest
import torch

from genlab.core.errors import ConfigError
from genlab.core.protocol import DataSpec
from genlab.nets import TimeEmbedding, TimeMLP, UNet, build_time_net


def test_sinusoidal_embedding_is_the_ddpm_code():
    emb = TimeEmbedding(8, "sinusoidal", scale=1.0)
    t = torch.tensor([0.0, 3.0])
    e = emb(t)
    w = torch.tensor([10000 ** (-k / 4) for k in range(4)])
    torch.testing.assert_close(e[1], torch.cat([(3 * w).sin(), (3 * w).cos()]))
    torch.testing.assert_close(e[0], torch.cat([torch.zeros(4), torch.ones(4)]))
    # default scale 1000: t in [0, 1] acts as DDPM's integer step
    torch.testing.assert_close(TimeEmbedding(8)(torch.tensor([0.5])), emb(torch.tensor([500.0])))


def test_fourier_embedding_is_fixed_and_saved():
    torch.manual_seed(0)
    emb = TimeEmbedding(16, "fourier", scale=4.0)
    assert not list(emb.parameters()) and "freqs" in emb.state_dict()
    f = emb.freqs / (2 * math.pi)
    assert 1.0 < float(f.std()) < 10.0  # b ~ N(0, 4^2)
    e = emb(torch.rand(5))
    assert e.shape == (5, 16)
    torch.testing.assert_close(e[:, :8] ** 2 + e[:, 8:] ** 2, torch.ones(5, 8))
    other = TimeEmbedding(16, "fourier", scale=4.0)
    other.load_state_dict(emb.state_dict())
    torch.testing.assert_close(other(torch.tensor([0.3])), emb(torch.tensor([0.3])))


@pytest.mark.parametrize("bad", [dict(dim=7), dict(dim=8, kind="wavelet"), dict(dim=8, scale=0.0)])
def test_embedding_refuses_bad_options(bad):
    with pytest.raises(ConfigError):
        TimeEmbedding(**bad)


@pytest.mark.parametrize("time", ["sinusoidal", "fourier", "concat"])
@pytest.mark.parametrize("act", ["silu", "selu", "relu"])
def test_time_mlp_shapes_time_dependence_and_gradients(time, act):
    torch.manual_seed(0)
    net = TimeMLP(3, hidden=16, depth=2, act=act, time=time, time_dim=8)
    x = torch.randn(4, 3)
    out = net(x, torch.full((4,), 0.2))
    assert out.shape == (4, 3)
    assert not torch.allclose(out, net(x, torch.full((4,), 0.7)))
    torch.testing.assert_close(net(x, 0.2), out)  # a scalar t is broadcast
    t = torch.rand(4, requires_grad=True)
    x.requires_grad_(True)
    net(x, t).square().sum().backward()
    assert x.grad.abs().sum() > 0 and t.grad.abs().sum() > 0
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())


def test_time_mlp_concat_is_torchcfm_mlp():
    models = pytest.importorskip("torchcfm.models.models")
    torch.manual_seed(0)
    ref = models.MLP(2, time_varying=True, w=64)
    net = TimeMLP(2, hidden=64, depth=3, act="selu", time="concat")
    shapes = {k: v.shape for k, v in ref.state_dict().items()}
    assert {k: v.shape for k, v in net.state_dict().items()} == shapes
    net.load_state_dict(ref.state_dict())
    x, t = torch.randn(10, 2), torch.rand(10)
    torch.testing.assert_close(net(x, t), ref(torch.cat([x, t[:, None]], 1)))


def test_time_mlp_refuses_bad_input():
    net = TimeMLP(2, hidden=8, depth=1)
    with pytest.raises(ValueError, match="expects"):
        net(torch.randn(3, 4), torch.rand(3))
    with pytest.raises(ValueError, match="times"):
        net(torch.randn(3, 2), torch.rand(2))
    with pytest.raises(ConfigError):
        TimeMLP(2, act="tanh")


@pytest.mark.parametrize("size,mults", [(28, (1, 2, 2)), (8, (1, 2, 2)), (7, (1, 2)), (28, (1,))])
@pytest.mark.parametrize("attention", [True, False])
def test_unet_shapes_odd_sizes_time_and_gradients(size, mults, attention):
    torch.manual_seed(0)
    net = UNet(2, base=8, mults=mults, blocks=1, attention=attention, groups=4)
    x = torch.randn(3, 2, size, size, requires_grad=True)
    t = torch.rand(3)
    out = net(x, t)
    assert out.shape == x.shape
    assert not torch.allclose(out, net(x, t + 0.3))
    out.square().sum().backward()
    assert x.grad.abs().sum() > 0
    missing = [n for n, p in net.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not missing


def test_unet_sizes_after_downsampling():
    """28 -> 14 -> 7 -> 4 and back: each level's output size is the skip's, found by hooks."""
    net = UNet(1, base=8, mults=(1, 1, 1, 1), groups=4)
    sizes = []
    for level in net.up:
        level[-1].register_forward_hook(lambda m, i, o: sizes.append(o.shape[-1]))
    net(torch.randn(1, 1, 28, 28), 0.5)
    assert sizes == [4, 7, 14, 28]


def test_unet_examples_are_independent():
    """GroupNorm and attention act per example: an example's output ignores the rest of the batch."""
    torch.manual_seed(0)
    net = UNet(1, base=8, mults=(1, 2), groups=4).eval()
    x, t = torch.randn(4, 1, 8, 8), torch.rand(4)
    torch.testing.assert_close(net(x, t)[:1], net(x[:1], t[:1]), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("bad", [dict(base=10, groups=4), dict(mults=()), dict(blocks=0)])
def test_unet_refuses_bad_options(bad):
    with pytest.raises(ConfigError):
        UNet(1, **bad)


def test_build_time_net_by_name_and_data():
    image, vector = DataSpec((1, 8, 8), levels=256), DataSpec((2,))
    assert isinstance(build_time_net("auto", image, base=8, groups=4), UNet)
    assert isinstance(build_time_net("auto", vector, hidden=8), TimeMLP)
    assert isinstance(build_time_net("mlp", (5,), hidden=8), TimeMLP)
    with pytest.raises(ConfigError, match="model.net=unet needs image data"):
        build_time_net("unet", vector)
    with pytest.raises(ConfigError, match="model.net=mlp needs vector data"):
        build_time_net("mlp", image)
    with pytest.raises(ConfigError, match="unknown"):
        build_time_net("transformer", vector)
