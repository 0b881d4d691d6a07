"""The MLP inequality ||grad_x f||^2 sum_t (...) <= ||grad_theta f||^2 on random nets, its tight
one-layer case, and a violation outside its assumptions (layers without bias)."""

import pytest
import torch
from torch import nn

from genlab.regularizers import gp_inequality_sides


def mlp(sizes, act, bias=True, seed=0, scale=1.0):
    torch.manual_seed(seed)
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        lin = nn.Linear(a, b, bias=bias).double()
        with torch.no_grad():
            lin.weight.mul_(scale)
        layers.append(lin)
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


@pytest.mark.parametrize("act", [nn.Tanh, nn.ReLU, nn.Softplus])
@pytest.mark.parametrize("seed", range(4))
def test_holds_on_random_mlps(act, seed):
    g = torch.Generator().manual_seed(seed)
    sizes = [int(s) for s in torch.randint(2, 9, (int(torch.randint(2, 5, (1,), generator=g)) + 1,),
                                           generator=g)]
    net = mlp(sizes, act, seed=seed, scale=float(torch.empty(1).uniform_(0.5, 3.0, generator=g)))
    readout = torch.randn(sizes[-1], dtype=torch.float64, generator=g)
    for _ in range(3):
        x = torch.randn(sizes[0], dtype=torch.float64, generator=g)
        res = gp_inequality_sides(net, x, lambda y: (readout * y).sum())
        assert res.lhs > 0 and res.holds(), (sizes, res)
        assert len(res.layer_terms) == len(sizes) - 1


def test_single_affine_layer_is_tight():
    # f = w.x + b: grad_x f = w, grad_theta f = (x, 1); lhs = ||w||^2 (1 + ||x||^2) / ||w||^2 = rhs
    net = mlp([4, 1], nn.Tanh, seed=3)
    x = torch.randn(4, dtype=torch.float64)
    res = gp_inequality_sides(net, x)
    assert res.lhs == pytest.approx(1 + x.square().sum().item(), rel=1e-12)
    assert res.rhs == pytest.approx(res.lhs, rel=1e-12)


def test_fails_without_biases():
    # outside the assumptions: with no b_t the "1 +" has no bias gradient to pay for it;
    # one layer gives lhs = 1 + ||x||^2 > ||x||^2 = rhs
    net = mlp([4, 1], nn.Tanh, bias=False, seed=3)
    res = gp_inequality_sides(net, torch.randn(4, dtype=torch.float64))
    assert not res.holds()
    deep = mlp([3, 6, 6, 1], nn.Tanh, bias=False, seed=1)
    assert not gp_inequality_sides(deep, 0.05 * torch.randn(3, dtype=torch.float64)).holds()


def test_rejects_non_mlp():
    with pytest.raises(ValueError, match="parameters"):
        gp_inequality_sides(nn.Sequential(nn.Linear(2, 2), nn.LayerNorm(2)), torch.randn(2))
    with pytest.raises(TypeError):
        gp_inequality_sides(nn.Linear(2, 1), torch.randn(2))
    with pytest.raises(ValueError, match="unbatched"):
        gp_inequality_sides(nn.Sequential(nn.Linear(2, 1)), torch.randn(3, 2))
