"""Per-task flat gradients and the helpers around them."""

import pytest
import torch
from torch import nn

from genlab.mtl import grad_matrix, task_gradients, write_flat_grad


def test_task_gradients_match_separate_backwards_and_keep_the_graph():
    torch.manual_seed(0)
    trunk, head, unused = nn.Linear(3, 4), nn.Linear(4, 1), nn.Linear(2, 2)
    z = trunk(torch.randn(8, 3))
    losses = {"a": head(z).pow(2).mean(), "b": z.abs().mean()}
    params = list(trunk.parameters()) + list(unused.parameters())
    g = task_gradients(losses, params)
    assert g.shape == (2, sum(p.numel() for p in params))
    for row, loss in zip(g, losses.values()):
        expected = torch.autograd.grad(loss, list(trunk.parameters()), retain_graph=True)
        n = sum(p.numel() for p in trunk.parameters())
        torch.testing.assert_close(row[:n], torch.cat([e.reshape(-1) for e in expected]))
        assert (row[n:] == 0).all()  # parameters a loss does not reach get zeros
    sum(losses.values()).backward()  # graph still alive


def test_retain_graph_false_frees_the_shared_graph_after_the_last_loss():
    torch.manual_seed(0)
    trunk = nn.Linear(3, 4)
    z = trunk(torch.randn(8, 3))
    losses = {"a": z.pow(2).mean(), "b": z.abs().mean(), "c": z.sum()}  # one graph, three losses
    kept = task_gradients(losses, list(trunk.parameters()))
    freed = task_gradients(losses, list(trunk.parameters()), retain_graph=False)  # 2nd, 3rd need it
    assert torch.equal(kept, freed)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        losses["a"].backward()


def test_write_flat_grad_views_without_copy():
    params = [nn.Parameter(torch.zeros(2, 2)), nn.Parameter(torch.zeros(3))]
    flat = torch.arange(7.0)
    write_flat_grad(params, flat, copy=False)
    assert params[0].grad.data_ptr() == flat.data_ptr()  # no allocation: views of the direction
    write_flat_grad(params, flat)
    assert params[0].grad.data_ptr() != flat.data_ptr()  # the default copies
    torch.testing.assert_close(params[1].grad, torch.tensor([4.0, 5.0, 6.0]))


def test_grad_matrix_and_write_flat_grad():
    rows = [torch.arange(3.0), torch.ones(3)]
    torch.testing.assert_close(grad_matrix(rows), torch.stack(rows))
    params = [nn.Parameter(torch.zeros(2, 2)), nn.Parameter(torch.zeros(3))]
    write_flat_grad(params, torch.arange(7.0))
    torch.testing.assert_close(params[0].grad, torch.tensor([[0.0, 1.0], [2.0, 3.0]]))
    torch.testing.assert_close(params[1].grad, torch.tensor([4.0, 5.0, 6.0]))


def test_bad_input():
    with pytest.raises(ValueError, match="params"):
        task_gradients({"a": torch.tensor(1.0, requires_grad=True)}, [])
    with pytest.raises(ValueError, match="empty"):
        task_gradients({}, [nn.Parameter(torch.zeros(1))])
    with pytest.raises(ValueError, match="one length"):
        grad_matrix([torch.ones(2), torch.ones(3)])
    with pytest.raises(ValueError, match="one row per loss"):
        grad_matrix(torch.ones(2, 3), n_tasks=3)
    with pytest.raises(ValueError, match="flat"):
        write_flat_grad([nn.Parameter(torch.zeros(2))], torch.zeros(3))
