import copy

import pytest
import torch

from genlab.optim import LazyRows
from tests.optim.problems import TinyModel, backward_at, batch


def _touched(step: int) -> torch.Tensor:
    tokens, _ = batch(step)
    mask = torch.zeros(12, dtype=torch.bool)
    mask[tokens.unique()] = True
    return mask


@pytest.mark.parametrize("make_base", [
    lambda ps: torch.optim.Adam(ps, lr=0.05),
    lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
    lambda ps: torch.optim.RMSprop(ps, lr=0.01, momentum=0.5),
])
def test_untouched_rows_frozen_touched_rows_match_dense(make_base):
    model = TinyModel()
    opt = LazyRows(make_base(model.parameters()), params=[model.emb.weight])
    # warm-up steps give every row non-zero state, so freezing is visible
    for _ in range(3):
        opt.zero_grad()
        model.emb.weight.grad = torch.randn_like(model.emb.weight)
        model.lin.weight.grad = torch.randn_like(model.lin.weight)
        model.lin.bias.grad = torch.randn_like(model.lin.bias)
        opt.step()
    dense_model = copy.deepcopy(model)
    dense_opt = make_base(dense_model.parameters())
    dense_opt.load_state_dict(copy.deepcopy(opt.base.state_dict()))  # load_state_dict shares tensors
    w = model.emb.weight
    before = w.detach().clone()
    state_before = {k: v.clone() for k, v in opt.base.state[w].items() if torch.is_tensor(v)}
    backward_at(model, opt, 7)
    backward_at(dense_model, dense_opt, 7)
    opt.step()
    dense_opt.step()
    idle = ~_touched(7)
    assert idle.any() and (~idle).any()
    assert torch.equal(w[idle], before[idle])
    dense_w = dense_model.emb.weight
    assert torch.equal(w[~idle], dense_w[~idle])  # same elementwise operations on the same inputs
    assert not torch.equal(dense_w[idle], before[idle])  # the dense optimizer does move them
    for k, v in opt.base.state[w].items():
        if torch.is_tensor(v) and v.shape == w.shape:
            assert torch.equal(v[idle], state_before[k][idle]), k
            assert torch.equal(v[~idle], dense_opt.state[dense_w][k][~idle]), k
    for p, q in zip([model.lin.weight, model.lin.bias], [dense_model.lin.weight, dense_model.lin.bias]):
        assert torch.equal(p, q)  # not lazy: plain dense update


def test_sparse_gradients_match_sparse_adam():
    ours, ref = TinyModel(sparse=True), TinyModel(sparse=True)
    opt = LazyRows(torch.optim.Adam([ours.emb.weight], lr=0.05, eps=1e-12))
    ref_opt = torch.optim.SparseAdam([ref.emb.weight], lr=0.05, eps=1e-12)
    for t in range(10):
        backward_at(ours, opt, t)
        backward_at(ref, ref_opt, t)
        assert ours.emb.weight.grad.is_sparse
        opt.step()
        ref_opt.step()
        assert ours.emb.weight.grad.is_sparse  # the caller's sparse gradient is put back
    # why: SparseAdam adds eps to sqrt(v) before bias correction and Adam after; with eps=1e-12 and
    # O(1e-2) gradients the two agree to ~1e-10, well below one lazy-vs-dense difference (~1e-2).
    torch.testing.assert_close(ours.emb.weight, ref.emb.weight, rtol=1e-9, atol=1e-11)
    assert torch.equal(ours.emb.weight[8:], TinyModel(sparse=True).emb.weight[8:])  # rows never used


def test_sparse_and_dense_gradients_agree():
    dense, sparse = TinyModel(), TinyModel(sparse=True)
    opt_d = LazyRows(torch.optim.Adam(dense.parameters(), lr=0.05), params=[dense.emb.weight])
    opt_s = LazyRows(torch.optim.Adam(sparse.parameters(), lr=0.05), params=[sparse.emb.weight])
    for t in range(8):
        backward_at(dense, opt_d, t)
        backward_at(sparse, opt_s, t)
        opt_d.step()
        opt_s.step()
    for p, q in zip(dense.parameters(), sparse.parameters()):
        # why: sparse and dense embedding backward sum duplicate tokens in different orders
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-13)


def test_state_not_frozen_variant_moves_state_only():
    model = TinyModel()
    opt = LazyRows(torch.optim.SGD([model.emb.weight], lr=0.1, momentum=0.9), freeze_state=False)
    model.emb.weight.grad = torch.ones_like(model.emb.weight)
    opt.step()
    w = model.emb.weight
    before, buf_before = w.detach().clone(), opt.base.state[w]["momentum_buffer"].clone()
    backward_at(model, opt, 7)
    opt.step()
    idle = ~_touched(7)
    assert torch.equal(w[idle], before[idle])
    torch.testing.assert_close(opt.base.state[w]["momentum_buffer"][idle], 0.9 * buf_before[idle])


def test_params_must_belong_to_base():
    model = TinyModel()
    with pytest.raises(ValueError):
        LazyRows(torch.optim.Adam(model.lin.parameters()), params=[model.emb.weight])
