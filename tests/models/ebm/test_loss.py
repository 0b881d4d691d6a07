"""The CD loss: its gradient on a linear energy equals the formula; negatives carry no gradient."""

import pytest
import torch

from genlab.models import StepContext
from genlab.models.ebm import EBM, cd_loss


@pytest.mark.parametrize("alpha", [0.0, 1.0, 0.3])
def test_gradient_on_a_linear_energy_matches_the_formula(alpha):
    torch.manual_seed(0)
    w = torch.randn(3, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    pos, neg = torch.randn(32, 3, dtype=torch.float64), torch.randn(24, 3, dtype=torch.float64) + 1
    loss, _ = cd_loss(pos @ w + b, neg @ w + b, alpha)
    gw, gb = torch.autograd.grad(loss, (w, b))

    with torch.no_grad():
        ep, en = pos @ w + b, neg @ w + b
        # d/dw [mean E+ - mean E- + alpha (mean E+^2 + mean E-^2)], E = w.x + b
        want_w = (pos.mean(0) - neg.mean(0)
                  + alpha * (2 * (ep[:, None] * pos).mean(0) + 2 * (en[:, None] * neg).mean(0)))
        want_b = alpha * (2 * ep.mean() + 2 * en.mean())  # the contrast's b terms cancel
    torch.testing.assert_close(gw, want_w)
    torch.testing.assert_close(gb, want_b)


def test_both_squared_energies_are_penalised():
    """The official code's + sign on E(x-)^2 (the blog's minus is a typo): the loss grows with |E-|."""
    e_pos = torch.zeros(4)
    low, _ = cd_loss(e_pos, torch.full((4,), 1.0), alpha=1.0)
    high, _ = cd_loss(e_pos, torch.full((4,), 3.0), alpha=1.0)
    assert float(low) == pytest.approx(-1 + 1) and float(high) == pytest.approx(-3 + 9)


def test_model_loss_equals_cd_loss_of_detached_negatives():
    """The EBM's update is cd_loss(E(x), E(neg)) with neg a constant: the parameter gradient of the
    update equals the one recomputed from the stored negatives."""
    torch.manual_seed(0)
    model = EBM(EBM.Config(hidden=8, depth=1, n_steps=3, alpha=0.5), (2,))
    x = torch.randn(16, 2)
    (update,) = list(model.train_step({"x": x}, StepContext(0)))
    (neg,) = model._pending
    assert not neg.requires_grad
    params = list(model.parameters())
    got = torch.autograd.grad(update.loss, params)
    ref, _ = cd_loss(model.energy(x), model.energy(neg), 0.5)
    want = torch.autograd.grad(ref, params)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b)
