import pytest
import torch

from genlab.core.errors import ConfigError
from genlab.core.protocol import DataSpec
from genlab.data import DATASETS
from genlab.models import MODELS
from genlab.recipes.capsules import (
    CapsNet,
    ClassCaps,
    ConvCaps,
    PrimaryCaps,
    em_routing,
    inverse_temperatures,
    spread_loss,
    spread_margin,
)
from genlab.recipes.labelled_run import held_out_accuracy, train_labelled
from tests.models import test_contract

D64 = torch.float64


def random_votes(batch=3, n_in=7, n_out=4, d=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    votes = torch.randn(batch, n_in, n_out, d, generator=g, dtype=D64)
    a_in = torch.rand(batch, n_in, generator=g, dtype=D64) * 0.9 + 0.05
    return votes, a_in


def test_one_output_capsule_gives_activation_weighted_moments():
    votes, a_in = random_votes(n_out=1)
    beta_u, beta_a = torch.tensor([0.3], dtype=D64), torch.tensor([-0.2], dtype=D64)
    out = em_routing(votes, a_in, beta_u, beta_a, iterations=3, lam_min=0.5, lam_max=2.0, cost_norm="none",
                     eps=0.0)
    v = votes[:, :, 0]  # (B, n_in, d): every input sends everything to the single capsule
    w = a_in / a_in.sum(1, keepdim=True)
    mean = (w.unsqueeze(-1) * v).sum(1)
    var = (w.unsqueeze(-1) * (v - mean.unsqueeze(1)) ** 2).sum(1)
    cost = (beta_u + 0.5 * var.log().sum(-1)) * a_in.sum(1)  # (beta_u + sum_h ln sigma_h) * sum_i a_i
    torch.testing.assert_close(out.pose[:, 0], mean)
    torch.testing.assert_close(out.activation[:, 0], torch.sigmoid(2.0 * (beta_a - cost)))
    assert torch.equal(out.assignment, torch.ones_like(out.assignment))
    # standardised, a lone capsule's cost is 0: the activation is sigmoid(lambda beta_a)
    alone = em_routing(votes, a_in, beta_u, beta_a, lam_min=0.5, lam_max=2.0)
    torch.testing.assert_close(alone.activation[:, 0], torch.sigmoid(2.0 * beta_a).expand(3))


@pytest.mark.parametrize("cost_norm", ["none", "standardise"])
def test_one_iteration_closed_form_with_several_capsules(cost_norm):
    # one iteration is one M-step from uniform assignments R = 1/n_out
    votes, a_in = random_votes(n_out=3, seed=2)
    beta_u, beta_a = torch.tensor([0.1, -0.4, 0.2], dtype=D64), torch.tensor([0.5, 0.0, -0.3], dtype=D64)
    out = em_routing(votes, a_in, beta_u, beta_a, iterations=1, lam_max=1.5, cost_norm=cost_norm, eps=0.0)
    w = (a_in / a_in.sum(1, keepdim=True))[:, :, None, None]
    mean = (w * votes).sum(1)
    var = (w * (votes - mean.unsqueeze(1)) ** 2).sum(1)
    cost = (beta_u + 0.5 * var.log().sum(-1)) * (a_in.sum(1, keepdim=True) / 3)
    if cost_norm == "standardise":
        cost = (cost - cost.mean(1, keepdim=True)) / cost.std(1, unbiased=False, keepdim=True)
    torch.testing.assert_close(out.pose, mean)
    torch.testing.assert_close(out.activation, torch.sigmoid(1.5 * (beta_a - cost)))
    with pytest.raises(ValueError, match="cost_norm"):
        em_routing(votes, a_in, beta_u, beta_a, cost_norm="share")


def test_assignment_rows_sum_to_one_and_activations_in_unit_interval():
    votes, a_in = random_votes(n_out=5, seed=1)
    out = em_routing(votes, a_in, torch.zeros(5, dtype=D64), torch.zeros(5, dtype=D64), iterations=3)
    assert out.assignment.shape == (3, 7, 5) and out.pose.shape == (3, 5, 16)
    torch.testing.assert_close(out.assignment.sum(-1), torch.ones(3, 7, dtype=D64))
    assert (out.assignment > 0).all()
    assert ((out.activation > 0) & (out.activation < 1)).all()


def test_routing_sends_agreeing_inputs_to_the_capsule_they_agree_on():
    # inputs 0-4 agree (tightly) on capsule 0 and scatter on capsule 1; inputs 5-9 the other way round
    g = torch.Generator().manual_seed(3)
    d, n = 16, 10
    centre = torch.randn(2, d, generator=g, dtype=D64)
    votes = 3 * torch.randn(1, n, 2, d, generator=g, dtype=D64)
    votes[0, :5, 0] = centre[0] + 0.01 * torch.randn(5, d, generator=g, dtype=D64)
    votes[0, 5:, 1] = centre[1] + 0.01 * torch.randn(5, d, generator=g, dtype=D64)
    out = em_routing(votes, torch.full((1, n), 0.9, dtype=D64), torch.zeros(2, dtype=D64),
                     torch.zeros(2, dtype=D64), iterations=3)
    assert (out.assignment[0, :5, 0] > 0.99).all() and (out.assignment[0, 5:, 1] > 0.99).all()
    torch.testing.assert_close(out.pose[0], centre, atol=0.02, rtol=0)


def test_inverse_temperature_ramp():
    assert inverse_temperatures(3, 1.0, 3.0) == [1.0, 2.0, 3.0]
    assert inverse_temperatures(1, 1.0, 3.0) == [3.0]
    with pytest.raises(ValueError, match="lam_max"):
        inverse_temperatures(3, 2.0, 1.0)
    with pytest.raises(ValueError, match="iterations"):
        inverse_temperatures(0, 1.0, 1.0)


def test_spread_loss_closed_form():
    a = torch.tensor([[0.9, 0.5, 0.1], [0.2, 0.6, 0.3]])
    y = torch.tensor([0, 2])
    # example 1: (0.5 - 0.4)^2 + 0 ; example 2: (0.5 - 0.1)^2 + (0.5 + 0.3)^2
    expected = ((0.1**2) + (0.4**2 + 0.8**2)) / 2
    assert spread_loss(a, y, 0.5).item() == pytest.approx(expected, rel=1e-6)
    assert spread_loss(torch.tensor([[1.0, 0.0]]), torch.tensor([0]), 0.9).item() == 0.0
    # gradient: -2 * sum of positive gaps on the target, +2 * gap on each other class (per example / N)
    a = a.clone().requires_grad_()
    spread_loss(a, y, 0.5).backward()
    expected_grad = torch.tensor([[-0.2, 0.2, 0.0], [0.8, 1.6, -2.4]]) / 2
    torch.testing.assert_close(a.grad, expected_grad)


def test_spread_margin_schedule():
    assert spread_margin(0, 100) == pytest.approx(0.2)
    assert spread_margin(50, 100) == pytest.approx(0.55)
    assert spread_margin(500, 100) == pytest.approx(0.9)
    with pytest.raises(ValueError, match="margin end"):
        spread_margin(0, 10, 0.5, 0.4)


def test_conv_caps_routes_each_window_like_em_routing_on_its_votes():
    torch.manual_seed(0)
    layer = ConvCaps(in_types=2, out_types=3, kernel=3, stride=1)
    pose, a = torch.randn(2, 3, 3, 2, 4, 4), torch.rand(2, 3, 3, 2)
    p_out, a_out = layer(pose, a)
    assert p_out.shape == (2, 1, 1, 3, 4, 4) and a_out.shape == (2, 1, 1, 3)
    # input capsule index: (row * 3 + col) * types + type
    p_in = pose.reshape(2, 18, 4, 4)
    votes = torch.einsum("biac,ijcd->bijad", p_in, layer.transform).flatten(-2)
    ref = em_routing(votes, a.reshape(2, 18), layer.beta_u, layer.beta_a)
    torch.testing.assert_close(a_out.view(2, 3), ref.activation)
    torch.testing.assert_close(p_out.view(2, 3, 16), ref.pose)
    strided = ConvCaps(2, 3, kernel=3, stride=2)(torch.randn(1, 8, 8, 2, 4, 4), torch.rand(1, 8, 8, 2))
    assert strided[0].shape == (1, 3, 3, 3, 4, 4)


def test_class_caps_adds_scaled_coordinates_to_the_votes():
    torch.manual_seed(1)
    layer = ClassCaps(in_types=1, n_classes=2)
    with torch.no_grad():
        layer.transform.copy_(torch.eye(4).expand(1, 2, 4, 4))
    pose = torch.zeros(1, 2, 2, 1, 4, 4)  # zero poses: the votes are the coordinates alone
    layer.iterations, layer.lams = 1, (1.0, 1.0)
    p_out, _ = layer(pose, torch.ones(1, 2, 2, 1))
    expected = torch.zeros(4, 4)
    expected[0, 3] = expected[1, 3] = 0.5  # the mean of (0.25, 0.75) in rows and columns
    torch.testing.assert_close(p_out[0, 0], expected)


def test_primary_caps_shapes():
    pose, a = PrimaryCaps(5, 3)(torch.randn(2, 5, 4, 6))
    assert pose.shape == (2, 4, 6, 3, 4, 4) and a.shape == (2, 4, 6, 3)
    assert ((a > 0) & (a < 1)).all()


TINY = {"primary_types": 2, "caps_types": 2, "conv_channels": 4, "iterations": 2}
LABELLED = DataSpec((1, 8, 8), levels=17, n_classes=3)


def test_capsnet_honours_the_model_contract(monkeypatch):
    monkeypatch.setitem(test_contract.TINY, "capsnet", (TINY, (LABELLED,)))
    with MODELS.temporary("capsnet", CapsNet):
        test_contract.test_contract("capsnet", LABELLED)
        test_contract.test_state_round_trip("capsnet", LABELLED)


def test_capsnet_bad_configs():
    with pytest.raises(ConfigError, match="labelled"):
        CapsNet(CapsNet.Config(), DataSpec((1, 8, 8), levels=17))
    with pytest.raises(ConfigError, match="caps_types"):
        CapsNet(CapsNet.Config(caps_types=0), LABELLED)
    with pytest.raises(ConfigError, match="caps_kernel"):
        CapsNet(CapsNet.Config(caps_kernel=9), LABELLED)
    with pytest.raises(ConfigError, match="lam_max"):
        CapsNet(CapsNet.Config(lam_min=2.0, lam_max=1.0), LABELLED)


def test_tiny_capsnet_learns_digits():
    digits = DATASETS.get("digits")()
    model = train_labelled("capsnet", CapsNet, {"primary_types": 4, "caps_types": 4, "margin_steps": 40},
                           digits, steps=80, batch_size=32, optim={"default": {"name": "adam", "lr": 1e-2}})
    assert "capsnet" not in MODELS  # registered for the run only
    acc = held_out_accuracy(model, digits)
    assert acc > 0.5, acc  # chance is 0.1
