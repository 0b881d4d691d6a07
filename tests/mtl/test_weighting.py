"""Loss weightings (https://kexue.fm/archives/8870): gradients, limits, invariances, state and bad input."""

import io
import math

import pytest
import torch
from torch import nn

from genlab.mtl import (
    FixedWeighting,
    GradNormalizedWeighting,
    InitialLossWeighting,
    PowerMeanWeighting,
    PriorLossWeighting,
    RealtimeWeighting,
    task_gradients,
)


class TwoHeads(nn.Module):
    """Shared trunk and two heads; the task losses are positive and differ in scale."""

    def __init__(self):
        super().__init__()
        self.trunk, self.a, self.b = nn.Linear(3, 5), nn.Linear(5, 1), nn.Linear(5, 1)

    def losses(self, scale_b: float = 1.0, shift_b: float = 0.0) -> dict[str, torch.Tensor]:
        x = torch.randn(32, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
        z = torch.tanh(self.trunk(x))
        return {"a": (self.a(z) - 1).pow(2).mean(),
                "b": scale_b * (self.b(z) + 2).pow(2).mean() + shift_b,
                "c": (self.a(z) * self.b(z) - 0.5).pow(2).mean()}


def make_model() -> TwoHeads:
    torch.manual_seed(0)
    return TwoHeads().double()


def flat_grad(model: nn.Module, loss: torch.Tensor) -> torch.Tensor:
    return torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, list(model.parameters()),
                                                          retain_graph=True)])


def test_realtime_gradient_is_gradient_of_sum_of_logs():
    model = make_model()
    losses = model.losses()
    rule = RealtimeWeighting()
    combined = rule(losses)
    assert combined.item() == pytest.approx(3.0)  # value is always T
    expected = flat_grad(model, sum(v.log() for v in losses.values()))
    torch.testing.assert_close(flat_grad(model, combined), expected)


@pytest.mark.parametrize("gamma", [-2.0, -1.0, 0.0, 0.5, 1.0, 3.0])
def test_power_mean_value_and_gradient_match_direct_formula(gamma):
    model = make_model()
    losses = model.losses()
    values = torch.stack(list(losses.values()))
    direct = values.log().mean().exp() if gamma == 0 else values.pow(gamma).mean().pow(1 / gamma)
    combined = PowerMeanWeighting(gamma)(losses)
    torch.testing.assert_close(combined, direct)
    torch.testing.assert_close(flat_grad(model, combined), flat_grad(model, direct))


def test_power_mean_special_cases_limits_and_monotonicity():
    losses = {"a": torch.tensor(0.5, dtype=torch.float64), "b": torch.tensor(2.0, dtype=torch.float64),
              "c": torch.tensor(8.0, dtype=torch.float64)}
    m = {g: PowerMeanWeighting(g)(losses).item() for g in [-math.inf, -60, -1, 0, 1, 60, math.inf]}
    assert m[1] == pytest.approx(10.5 / 3)
    assert m[0] == pytest.approx(2.0)  # (0.5 * 2 * 8)^(1/3)
    assert m[-1] == pytest.approx(3 / (2 + 0.5 + 0.125))
    assert m[math.inf] == 8.0 and m[-math.inf] == 0.5
    # why: for gamma > 0, max * n^(-1/gamma) <= M <= max (mirror for min), so gamma = +-60 is within ~2 %
    assert 8.0 * 3 ** (-1 / 60) <= m[60] <= 8.0
    assert 0.5 <= m[-60] <= 0.5 * 3 ** (1 / 60)
    ordered = [m[g] for g in sorted(m)]
    assert ordered == sorted(ordered)  # non-decreasing in gamma
    w = PowerMeanWeighting(math.inf).weights(losses)
    assert [w[k].item() for k in "abc"] == [0.0, 0.0, 1.0]


def test_geometric_mean_has_the_realtime_direction():
    model = make_model()
    geo = flat_grad(model, PowerMeanWeighting(0.0)(model.losses()))
    rt = flat_grad(model, RealtimeWeighting()(model.losses()))
    torch.testing.assert_close(geo / geo.norm(), rt / rt.norm())


def test_grad_normalized_sums_unit_gradients():
    model = make_model()
    losses = model.losses()
    shared = list(model.trunk.parameters())
    g = task_gradients(losses, shared)
    rule = GradNormalizedWeighting(shared, eps=1e-30)
    combined = rule(losses)
    (got,) = [torch.cat([x.reshape(-1) for x in torch.autograd.grad(combined, shared)])]
    torch.testing.assert_close(got, (g / g.norm(dim=1, keepdim=True)).sum(0))
    torch.testing.assert_close(torch.stack(list(rule.last_weights.values())), 1 / g.norm(dim=1))


def _update(rule_factory, scale_b=1.0, shift_b=0.0):
    model = make_model()
    losses = model.losses(scale_b, shift_b)
    rule = rule_factory(model)
    return flat_grad(model, rule(losses))


@pytest.mark.parametrize(("name", "factory", "shift_invariant"), [
    ("initial", lambda m: InitialLossWeighting(), False),
    ("realtime", lambda m: RealtimeWeighting(), False),
    ("gradnorm", lambda m: GradNormalizedWeighting(list(m.trunk.parameters()), eps=1e-30), True),
])
def test_invariance_table(name, factory, shift_invariant):
    # scale- and shift-invariance of each rule, as tabulated in https://kexue.fm/archives/8870
    base = _update(factory)
    scaled = _update(factory, scale_b=10.0)
    shifted = _update(factory, shift_b=5.0)
    torch.testing.assert_close(scaled, base)  # multiplying L_b by 10 leaves the update unchanged
    assert torch.allclose(shifted, base) == shift_invariant


def test_prior_weighting_is_scale_invariant_when_prior_scales_too():
    base = _update(lambda m: PriorLossWeighting({"a": 1.0, "b": 2.0, "c": 0.5}))
    scaled = _update(lambda m: PriorLossWeighting({"a": 1.0, "b": 20.0, "c": 0.5}), scale_b=10.0)
    torch.testing.assert_close(scaled, base)


def test_initial_weighting_remembers_first_losses_and_round_trips():
    rule = InitialLossWeighting()
    first = {"a": torch.tensor(2.0), "b": torch.tensor(0.25)}
    rule(first)
    later = {"a": torch.tensor(1.0), "b": torch.tensor(0.5)}
    assert rule(later).item() == pytest.approx(1.0 / 2.0 + 0.5 / 0.25)
    buffer = io.BytesIO()
    torch.save(rule.state_dict(), buffer)
    buffer.seek(0)
    restored = InitialLossWeighting()
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    assert restored.weights(later) == rule.weights(later)
    assert restored.weights(later)["b"].item() == 4.0


def test_fixed_weighting():
    losses = {"a": torch.tensor(1.0), "b": torch.tensor(3.0)}
    assert FixedWeighting()(losses).item() == 2.0  # equal weights 1/T
    rule = FixedWeighting({"a": 0.25, "b": 2.0})
    assert rule(losses).item() == 6.25
    assert rule.last_weights["b"].item() == 2.0


def test_bad_input():
    one = {"a": torch.tensor(1.0)}
    with pytest.raises(ValueError, match="empty"):
        RealtimeWeighting()({})
    with pytest.raises(TypeError, match="mapping"):
        RealtimeWeighting()([torch.tensor(1.0)])
    with pytest.raises(ValueError, match="scalar"):
        RealtimeWeighting()({"a": torch.ones(2)})
    with pytest.raises(ValueError, match=">= 0"):
        FixedWeighting({"a": -1.0})
    with pytest.raises(ValueError, match="no weight"):
        FixedWeighting({"b": 1.0})(one)
    with pytest.raises(ValueError, match="> 0"):
        PriorLossWeighting({"a": 0.0})
    with pytest.raises(ValueError, match="initial loss"):
        InitialLossWeighting()({"a": torch.tensor(-1.0)})
    with pytest.raises(ValueError, match="gamma"):
        PowerMeanWeighting(float("nan"))
    with pytest.raises(ValueError, match="needs per-task gradients"):
        GradNormalizedWeighting()(one)
    with pytest.raises(ValueError, match="one row per loss"):
        GradNormalizedWeighting()(one, grads=torch.ones(2, 3))
    with pytest.raises(ValueError, match="initial_losses"):
        InitialLossWeighting().load_state_dict({})
