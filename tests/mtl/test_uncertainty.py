"""Uncertainty weighting (Kendall et al., arXiv:1705.07115): formula, gradients, optimum, state."""

import io

import pytest
import torch

from genlab.mtl import UncertaintyWeighting


def test_loss_matches_formula_and_optimum():
    rule = UncertaintyWeighting(["depth", "seg"], classification={"seg"})
    with torch.no_grad():
        rule.log_vars.copy_(torch.tensor([0.3, -0.7]))
    losses = {"seg": torch.tensor(1.5), "depth": torch.tensor(4.0)}
    s1, s2 = 0.3, -0.7
    expected = 0.5 * torch.exp(torch.tensor(-s1)) * 4.0 + torch.exp(torch.tensor(-s2)) * 1.5 + 0.5 * (s1 + s2)
    out = rule(losses)
    torch.testing.assert_close(out, expected)
    assert rule.last_weights["seg"].item() == pytest.approx(torch.exp(torch.tensor(0.7)).item())
    # d/ds (c e^-s L + s/2) = 0  =>  s* = log(2 c L): the gradient there vanishes
    with torch.no_grad():
        rule.log_vars.copy_(torch.log(torch.tensor([2 * 0.5 * 4.0, 2 * 1.0 * 1.5])))
    rule(losses).backward()
    torch.testing.assert_close(rule.log_vars.grad, torch.zeros(2), atol=1e-6, rtol=0)


def test_losses_receive_the_weighted_gradient():
    rule = UncertaintyWeighting(["a", "b"], init_log_var=1.0)
    la, lb = torch.tensor(2.0, requires_grad=True), torch.tensor(3.0, requires_grad=True)
    rule({"a": la, "b": lb}).backward()
    assert la.grad.item() == pytest.approx(0.5 * torch.exp(torch.tensor(-1.0)).item())


def test_state_round_trips_through_weights_only_load():
    rule = UncertaintyWeighting(["a", "b"])
    with torch.no_grad():
        rule.log_vars.copy_(torch.tensor([0.1, 0.2]))
    buffer = io.BytesIO()
    torch.save(rule.state_dict(), buffer)
    buffer.seek(0)
    restored = UncertaintyWeighting(["a", "b"])
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    torch.testing.assert_close(restored.log_vars, rule.log_vars)


def test_bad_input():
    with pytest.raises(ValueError, match="names"):
        UncertaintyWeighting([])
    with pytest.raises(ValueError, match="names"):
        UncertaintyWeighting(["a", "a"])
    with pytest.raises(ValueError, match="classification"):
        UncertaintyWeighting(["a"], classification={"b"})
    with pytest.raises(ValueError, match="named exactly"):
        UncertaintyWeighting(["a", "b"])({"a": torch.tensor(1.0)})
