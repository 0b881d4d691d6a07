import pytest
import torch

from genlab.optim import DecoupledWeightDecay, is_vector_like
from tests.optim.problems import TinyModel, backward_at, loss_at


@pytest.mark.parametrize("amsgrad", [False, True])
def test_decoupled_adam_equals_adamw_under_a_schedule(amsgrad):
    ours, ref = TinyModel(), TinyModel()
    base = torch.optim.Adam(ours.parameters(), lr=0.05, amsgrad=amsgrad)
    opt = DecoupledWeightDecay(base, weight_decay=0.3)
    ref_opt = torch.optim.AdamW(ref.parameters(), lr=0.05, weight_decay=0.3, amsgrad=amsgrad)
    scheds = [torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.8) for o in (opt, ref_opt)]
    for t in range(12):
        backward_at(ours, opt, t)
        backward_at(ref, ref_opt, t)
        opt.step()
        ref_opt.step()
        for s in scheds:
            s.step()
        # AdamW also multiplies by (1 - lr * wd) before its Adam update: same operations, same bits
        for p, q in zip(ours.parameters(), ref.parameters()):
            assert torch.equal(p, q), f"step {t}"


def test_closure_path_equals_plain_path():
    a, b = TinyModel(), TinyModel()
    opt_a = DecoupledWeightDecay(torch.optim.Adam(a.parameters(), lr=0.05), weight_decay=0.3)
    opt_b = DecoupledWeightDecay(torch.optim.Adam(b.parameters(), lr=0.05), weight_decay=0.3)
    for t in range(5):
        backward_at(a, opt_a, t)
        opt_a.step()
        expected_loss = loss_at(b, t).detach()
        loss = opt_b.step(lambda t=t: backward_at(b, opt_b, t))
        assert torch.equal(loss.detach(), expected_loss)  # the loss at the pre-step point
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


def test_equals_coupled_l2_for_plain_sgd():
    # For plain SGD, p - lr (g + wd p) = p (1 - lr wd) - lr g: decoupled and L2 decay coincide.
    ours, ref = TinyModel(), TinyModel()
    opt = DecoupledWeightDecay(torch.optim.SGD(ours.parameters(), lr=0.1), weight_decay=0.2)
    ref_opt = torch.optim.SGD(ref.parameters(), lr=0.1, weight_decay=0.2)
    for t in range(6):
        backward_at(ours, opt, t)
        backward_at(ref, ref_opt, t)
        opt.step()
        ref_opt.step()
    for p, q in zip(ours.parameters(), ref.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-13, atol=1e-14)  # why: two roundings vs one per step


def test_exclusion_and_params_without_grad():
    model = TinyModel()
    bias0 = model.lin.bias.detach().clone()
    rows0 = model.emb.weight.detach().clone()
    opt = DecoupledWeightDecay(torch.optim.SGD(model.parameters(), lr=0.1), weight_decay=0.5,
                               exclude=is_vector_like)
    opt.zero_grad()
    model.emb.weight.grad = torch.zeros_like(model.emb.weight)
    model.lin.bias.grad = torch.zeros_like(model.lin.bias)  # lin.weight keeps grad None
    w0 = model.lin.weight.detach().clone()
    opt.step()
    assert torch.equal(model.lin.bias, bias0)  # excluded
    assert torch.equal(model.lin.weight, w0)  # no gradient: untouched, as in AdamW
    torch.testing.assert_close(model.emb.weight.detach(), rows0 * (1 - 0.1 * 0.5), rtol=0, atol=1e-15)


def test_bad_weight_decay():
    model = TinyModel()
    for wd in (-0.1, float("nan")):
        with pytest.raises(ValueError):
            DecoupledWeightDecay(torch.optim.Adam(model.parameters()), weight_decay=wd)
