import io

import pytest
import torch

from genlab.optim import Heun, Lookahead
from tests.optim.problems import FACTORIES, TinyModel, backward_at


def _steps(model, opt, start, stop, sched):
    for t in range(start, stop):
        if isinstance(opt, Heun):
            opt.step(lambda t=t: backward_at(model, opt, t))
        else:
            backward_at(model, opt, t)
            opt.step()
        sched.step()


def _round_trip(obj):
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


@pytest.mark.parametrize("name", list(FACTORIES))
def test_resume_through_weights_only_load_equals_uninterrupted(name):
    make = FACTORIES[name]
    straight = TinyModel()
    opt = make(straight)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.7)
    _steps(straight, opt, 0, 7, sched)

    first = TinyModel()
    opt1 = make(first)
    sched1 = torch.optim.lr_scheduler.StepLR(opt1, step_size=2, gamma=0.7)
    _steps(first, opt1, 0, 4, sched1)  # 4 is not a multiple of k: the Lookahead counter must survive
    ckpt = _round_trip({"model": first.state_dict(), "opt": opt1.state_dict(), "sched": sched1.state_dict()})

    resumed = TinyModel(seed=123)  # different initial weights, overwritten by the checkpoint
    opt2 = make(resumed)
    sched2 = torch.optim.lr_scheduler.StepLR(opt2, step_size=2, gamma=0.7)
    resumed.load_state_dict(ckpt["model"])
    opt2.load_state_dict(ckpt["opt"])
    sched2.load_state_dict(ckpt["sched"])
    _steps(resumed, opt2, 4, 7, sched2)
    for p, q in zip(straight.parameters(), resumed.parameters()):
        assert torch.equal(p, q), name


def test_load_rejects_foreign_state_dict():
    model = TinyModel()
    opt = Lookahead(torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(ValueError):
        opt.load_state_dict(torch.optim.SGD(model.parameters(), lr=0.1).state_dict())
