"""Reflow (`model.run`): the teacher arrives through the model builder, stays frozen, and its ODE
images of the sources are the regression targets."""

import pytest
import torch

from genlab.config import Config
from genlab.core.errors import ConfigError
from genlab.runs import load_run
from genlab.train import Trainer

TEACHER = {"name": "cfm", "path": "otcfm", "source": "normal", "hidden": 16, "depth": 2,
           "solver": "euler", "steps": 3}


def config(model: dict, steps: int) -> Config:
    return Config.from_dict({
        "model": model, "data": {"name": "moons", "batch_size": 16, "n_samples": 256},
        "optim": {"default": {"name": "adam", "lr": 1e-3, "ema": 0.9}},
        "train": {"steps": steps, "log_every": 1, "ckpt_every": 2, "progress": False, "device": "cpu",
                  "n_samples": 4},
    })


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("teacher")
    Trainer(config(TEACHER, 3), path).fit()
    return path


def student(teacher_dir, **extra):
    return {**TEACHER, "path": "icfm", "run": str(teacher_dir), **extra}


def test_reflow_trains_on_the_teachers_pairs(teacher_dir, tmp_path):
    trainer = Trainer(config(student(teacher_dir), 4), tmp_path / "reflow")
    model = trainer.model
    teacher_weights = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    # initialised from the teacher (EMA weights of the teacher run, as load_run gives them)
    for k, v in model.net.state_dict().items():
        assert torch.equal(v, model.teacher.net.state_dict()[k]), k
    trainer.fit()
    for k, v in model.teacher.state_dict().items():
        assert torch.equal(v, teacher_weights[k]), k  # frozen
    assert not model.teacher.training and all(not p.requires_grad for p in model.teacher.parameters())
    teacher_net = model.teacher.net.state_dict()
    assert any(not torch.equal(v, teacher_net[k]) for k, v in model.net.state_dict().items())
    # the regression targets: x1 = teacher ODE(x0), u = x1 - x0 on the straight line
    torch.manual_seed(5)
    xt, t, ut = model.regression_pairs(torch.zeros(8, 2))
    torch.manual_seed(5)
    x0 = torch.randn(8, 2)
    x1 = model.teacher.transport(x0)[0]
    assert torch.allclose(ut, x1 - x0, atol=1e-6)
    t2 = torch.rand(8)
    assert torch.allclose(t, t2) and torch.allclose(xt, torch.lerp(x0, x1, t[:, None]), atol=1e-6)


def test_reflow_run_resumes_exactly_and_reloads(teacher_dir, tmp_path):
    full = Trainer(config(student(teacher_dir), 4), tmp_path / "full")
    full.fit()
    Trainer(config(student(teacher_dir), 2), tmp_path / "split").fit()
    resumed = Trainer(config(student(teacher_dir), 4), tmp_path / "split", resume=True)
    resumed.fit()
    for (name, p), q in zip(full.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(p, q), name
    run = load_run(tmp_path / "full", "cpu")
    assert run.model.teacher is not None and run.model.sample(3).shape == (3, 2)


def test_reflow_config_errors(teacher_dir, tmp_path):
    with pytest.raises(ConfigError, match="model.path=icfm"):
        Trainer(config({**student(teacher_dir), "path": "otcfm"}, 1), tmp_path / "a")
    with pytest.raises(ConfigError, match="same source"):
        Trainer(config(student(teacher_dir, source="8gaussians"), 1), tmp_path / "b")
    with pytest.raises(ConfigError, match="init_from_teacher"):
        Trainer(config(student(teacher_dir, hidden=8), 1), tmp_path / "c")
    Trainer(config(student(teacher_dir, hidden=8, init_from_teacher=False), 1), tmp_path / "d").fit()
