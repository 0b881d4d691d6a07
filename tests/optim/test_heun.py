import pytest
import torch

from genlab.optim import Heun
from tests.optim.quadratic import X0, flow, grad, param_and_closure
from tests.optim.quadratic import loss as quadratic_loss


def _heun_endpoint(lr, steps):
    x, opt, closure = param_and_closure(lambda ps: Heun(ps, lr=lr))
    for _ in range(steps):
        opt.step(closure)
    return x.detach()


def test_iterates_equal_hand_written_predictor_corrector():
    x, opt, closure = param_and_closure(lambda ps: Heun(ps, lr=0.2))
    ref = X0.clone()
    for _ in range(15):
        loss = opt.step(closure)
        torch.testing.assert_close(loss.detach(), quadratic_loss(ref))  # the loss before the step
        predictor = ref - 0.2 * grad(ref)
        ref = ref - 0.1 * (grad(ref) + grad(predictor))
        torch.testing.assert_close(x.detach(), ref, rtol=1e-13, atol=1e-13)  # why: float64


def test_second_order_accuracy_on_gradient_flow():
    # Global error at time T is O(h^2) for Heun and O(h) for Euler (= gradient descent).
    T = 2.0
    exact = flow(T)
    errs = [(_heun_endpoint(T / n, n) - exact).norm() for n in (20, 40, 80)]
    ratios = [errs[i] / errs[i + 1] for i in range(2)]
    assert all(3.6 < r < 4.4 for r in ratios), ratios

    def euler(n):
        x, opt, closure = param_and_closure(lambda ps: torch.optim.SGD(ps, lr=T / n))
        for _ in range(n):
            opt.step(closure)
        return (x.detach() - exact).norm()

    assert 1.8 < euler(40) / euler(80) < 2.2  # the same test would reject a first-order method


def test_needs_closure_and_non_negative_lr():
    x = torch.nn.Parameter(X0.clone())
    with pytest.raises(TypeError):
        Heun([x], lr=0.1).step()
    with pytest.raises(ValueError):
        Heun([x], lr=-0.1)
