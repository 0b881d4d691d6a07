"""Every flow layer: inverse(forward(x)) == x and logdet == log|det J| of the autograd Jacobian."""

from __future__ import annotations

from functools import partial

import pytest
import torch
from torch.autograd.functional import jacobian

from genlab.core.errors import ConfigError
from genlab.models.flow import (
    ActNorm,
    AdditiveCoupling,
    AffineCoupling,
    FlowSequence,
    InvConv1x1,
    Permute,
    ScaleLayer,
    Split,
    Squeeze,
    checkerboard_mask,
    coupling_net,
    parity_mask,
)

torch.set_num_threads(1)
IMG = (4, 4, 4)  # C, H, W: 64 dimensions, a cheap 64x64 Jacobian
VEC = (6,)


def net(image: bool):
    return partial(coupling_net, hidden=8, image=image, depth=1)


def perturb(layer: torch.nn.Module) -> torch.nn.Module:
    """Move every parameter away from its (often identity) initialisation so the test means something."""
    torch.manual_seed(1)
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return layer


def actnorm(c: int):
    layer = ActNorm(c)
    layer.initialized.fill_(True)
    return layer


LAYERS = {
    "additive-channel": (lambda: AdditiveCoupling(4, net(True)), IMG),
    "additive-parity": (lambda: AdditiveCoupling(6, net(False), mask=parity_mask(6, 1)), VEC),
    "affine-sigmoid-channel": (lambda: AffineCoupling(4, net(True), scale="sigmoid"), IMG),
    "affine-tanh-channel-flip": (lambda: AffineCoupling(4, net(True), flip=True, scale="tanh"), IMG),
    "affine-odd-channels": (lambda: AffineCoupling(5, net(False), scale="tanh"), (5,)),
    "affine-checkerboard": (
        lambda: AffineCoupling(4, net(True), mask=checkerboard_mask(4, 4, 1), scale="sigmoid"), IMG),
    "affine-parity-vector": (lambda: AffineCoupling(6, net(False), mask=parity_mask(6, 0)), VEC),
    "scale-layer": (lambda: ScaleLayer(IMG), IMG),
    "actnorm-image": (lambda: actnorm(4), IMG),
    "actnorm-vector": (lambda: actnorm(6), VEC),
    "invconv-lu": (lambda: InvConv1x1(4, lu=True), IMG),
    "invconv-dense": (lambda: InvConv1x1(4, lu=False), IMG),
    "invconv-vector": (lambda: InvConv1x1(6), VEC),
    "reverse": (lambda: Permute(4, "reverse"), IMG),
    "shuffle": (lambda: Permute(6, "shuffle", seed=3), VEC),
    "squeeze": (lambda: Squeeze(), IMG),
    "sequence": (lambda: FlowSequence([actnorm(4), InvConv1x1(4), AffineCoupling(4, net(True))]), IMG),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_inverse_and_logdet_match_autograd(name):
    build, shape = LAYERS[name]
    torch.manual_seed(0)
    layer = perturb(build()).double().eval()
    x = torch.randn(3, *shape, dtype=torch.float64)
    y, logdet = layer(x)
    assert logdet.shape == (3,) and logdet.dtype == torch.float64  # follows a float64 layer
    torch.testing.assert_close(layer.inverse(y), x, atol=1e-9, rtol=1e-9)
    for i in range(3):
        jac = jacobian(lambda v: layer(v.view(1, *shape))[0].flatten(), x[i].flatten())
        expected = torch.linalg.slogdet(jac)[1]
        got = float(logdet[i].detach())
        assert abs(got - float(expected)) < 1e-8, (name, got, float(expected))  # float64 all through


@pytest.mark.parametrize("prior", ["conditional", "standard"])
def test_split_density_is_change_of_variables(prior):
    """x -> (z1, eps) is a bijection; log p(z2|z1) = log N(eps) + log|det d eps / d z2|."""
    split = perturb(Split(4, image=True, prior=prior)).double()
    x = torch.randn(2, *IMG, dtype=torch.float64)
    z1, eps, log_p = split(x)
    torch.testing.assert_close(split.inverse(z1, eps), x)
    for i in range(2):
        jac = jacobian(lambda v: torch.cat([t.flatten() for t in split(v.view(1, *IMG))[:2]]),
                       x[i].flatten())
        std_normal = torch.distributions.Normal(0.0, 1.0).log_prob(eps[i].float()).sum()
        expected = std_normal + torch.linalg.slogdet(jac)[1].float()
        assert abs(float(log_p[i].detach()) - float(expected.detach())) < 1e-4


def test_zero_initialised_couplings_start_as_identity():
    x = torch.randn(5, *IMG)
    for layer in (AffineCoupling(4, net(True), scale="tanh"), AdditiveCoupling(4, net(True)),
                  AffineCoupling(4, net(True), mask=checkerboard_mask(4, 4, 0), scale="tanh")):
        y, logdet = layer(x)
        assert torch.equal(y, x) and torch.equal(logdet, torch.zeros(5))


def test_actnorm_data_dependent_init_gives_unit_variance_once():
    layer = ActNorm(3)
    x = 5 + 3 * torch.randn(256, 3, 4, 4)
    y, _ = layer(x)
    assert bool(layer.initialized)
    torch.testing.assert_close(y.mean((0, 2, 3)), torch.zeros(3), atol=1e-4, rtol=0)
    torch.testing.assert_close(y.std((0, 2, 3), unbiased=False), torch.ones(3), atol=1e-3, rtol=0)
    before = layer.log_scale.detach().clone()
    layer(10 * x)  # a second batch must not re-initialise
    assert torch.equal(layer.log_scale.detach(), before)
    assert "initialized" in layer.state_dict()


def test_actnorm_is_identity_before_init_in_eval_mode():
    layer = ActNorm(3).eval()
    x = torch.randn(4, 3)
    y, logdet = layer(x)
    assert torch.equal(y, x) and not bool(layer.initialized) and torch.equal(logdet, torch.zeros(4))


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="even height and width"):
        Squeeze()(torch.zeros(2, 1, 7, 8))
    with pytest.raises(ValueError, match=r"expects a batch \(B, 4\)"):
        InvConv1x1(4)(torch.zeros(2, 3, 4, 4))
    with pytest.raises(ValueError, match="ActNorm"):
        ActNorm(4)(torch.zeros(2, 5))
    with pytest.raises(ConfigError, match="at least 2 channels"):
        AffineCoupling(1, net(True))
    with pytest.raises(ConfigError, match="unknown coupling scale"):
        AffineCoupling(4, net(True), scale="exp")
    with pytest.raises(ConfigError, match="unknown permutation"):
        Permute(4, "random")


def test_actnorm_forward_has_no_graph_break_once_initialised():
    """The initialised flag is read from a Python mirror: no tensor test (a device sync and a
    torch.compile graph break) per ActNorm per step. The old `bool(buffer)` broke a small Glow's
    log-likelihood into 15 graphs."""
    from genlab.models import MODELS, DataSpec

    layer = ActNorm(3)
    x = torch.randn(16, 3, 4, 4)
    layer(x)  # data-dependent init
    fresh = ActNorm(3)
    fresh.load_state_dict(layer.state_dict())  # a resumed layer is ready without another init
    before = fresh.log_scale.detach().clone()
    fresh(10 * x)
    assert torch.equal(fresh.log_scale.detach(), before)

    torch.manual_seed(0)
    glow = MODELS.get("glow")(MODELS.get("glow").Config(hidden=8, levels=2, steps=2, depth=1),
                              DataSpec((1, 8, 8), levels=17))
    images = torch.rand(8, 1, 8, 8)
    glow.log_likelihood(images)  # initialise every ActNorm (training mode)
    torch._dynamo.reset()
    explained = torch._dynamo.explain(lambda t: glow.log_likelihood(t).mean())(images)
    assert explained.graph_break_count == 0, explained.break_reasons
