"""The trainer's side of the newer contract pieces: multi-loss updates, `on_step_end`, per-rank extra
state, disjoint parameter groups and labelled batches. Models here are registered for each test only."""

from dataclasses import dataclass

import pytest
import torch
from torch import nn

from genlab.config import Config
from genlab.models import Model, Update
from genlab.mtl import FixedWeighting
from genlab.train import Trainer
from genlab.train.runlog import read_metrics
from tests.conftest import tiny_vae
from tests.toy_models import registered

W_A, W_B = 0.3, 2.0


class TwoTasks(Model):
    """A linear map trained on two losses, either as named losses with a fixed-weight rule or as
    the single hand-weighted loss w_a a + w_b b (the reference)."""

    @dataclass
    class Config:
        single: bool = False

    def __init__(self, cfg, spec):
        super().__init__()
        self.cfg = cfg
        self.lin = nn.Linear(spec.shape[0], 2)
        self.rule = FixedWeighting({"a": W_A, "b": W_B})

    def train_step(self, batch, ctx):
        y = self.lin(batch["x"])
        a = (y - 1).pow(2).sum(1).mean()
        b = self.lin.weight.pow(2).sum() + y[:, 0].mean()
        if self.cfg.single:
            loss = W_A * a + W_B * b
            yield Update(("model",), loss, {"loss": loss})
        else:
            yield Update(("model",), losses={"a": a, "b": b}, combine=self.rule)


class CountsHooks(Model):
    """Counts train_step calls (one per micro-batch) and on_step_end calls (one per step)."""

    @dataclass
    class Config:
        pass

    def __init__(self, cfg, spec):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(spec.shape))
        self.micro_batches = 0
        self.step_ends: list[int] = []

    def train_step(self, batch, ctx):
        self.micro_batches += 1
        loss = (batch["x"] - self.w).pow(2).mean()
        yield Update(("model",), loss, {"loss": loss})

    def on_step_end(self, ctx):
        self.step_ends.append(ctx.step)


class Counter(Model):
    """Keeps a per-process counter outside the state dict that also shapes the loss, so a resume
    that dropped it would train differently."""

    @dataclass
    class Config:
        pass

    def __init__(self, cfg, spec):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(spec.shape))
        self.counter = torch.zeros((), dtype=torch.long)

    def train_step(self, batch, ctx):
        loss = (1 + self.counter.to(self.w)) * (batch["x"] - self.w).pow(2).mean()
        yield Update(("model",), loss, {"loss": loss})

    def on_step_end(self, ctx):
        self.counter += 1

    def extra_state(self):
        return {"counter": self.counter.clone()}

    def load_extra_state(self, state):
        self.counter = state["counter"].clone()


class SharedGroups(Model):
    """Invalid: both groups hold the same parameter."""

    @dataclass
    class Config:
        pass

    def __init__(self, cfg, spec):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(spec.shape))

    def param_groups(self):
        return {"first": [self.w], "second": [self.w]}

    def train_step(self, batch, ctx):
        yield Update(("first",), self.w.sum())


class SeesLabels(Model):
    """Records the labels it is given."""

    @dataclass
    class Config:
        pass

    def __init__(self, cfg, spec):
        super().__init__()
        self.spec = spec
        self.w = nn.Parameter(torch.zeros(()))
        self.labels: list[torch.Tensor] = []

    def train_step(self, batch, ctx):
        self.labels.append(batch["y"].detach().clone())
        loss = (self.w - batch["x"].mean()).pow(2)
        yield Update(("model",), loss, {"loss": loss})


MODELS_HERE = {"test-two-tasks": TwoTasks, "test-hooks": CountsHooks, "test-counter": Counter,
               "test-shared": SharedGroups, "test-labels": SeesLabels}


@pytest.fixture(autouse=True)
def _models():
    with registered(MODELS_HERE):
        yield


def config(model: dict, **overrides) -> Config:
    raw = tiny_vae(**overrides)
    raw["model"] = model
    raw["optim"] = {"default": {"name": "sgd", "lr": 0.1}}
    return Config.from_dict(raw)


def test_multi_loss_update_equals_weighted_single_loss(tmp_path):
    multi = Trainer(config({"name": "test-two-tasks"}, train__steps=1), tmp_path / "multi")
    multi.fit()
    single = Trainer(config({"name": "test-two-tasks", "single": True}, train__steps=1), tmp_path / "single")
    single.fit()
    for (name, p), q in zip(multi.model.named_parameters(), single.model.parameters()):
        # why: same batch and initial weights; the two paths differ only in summation order
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6, msg=name)
    torch.manual_seed(multi.cfg.train.seed)  # the trainer builds its model right after this seed
    initial = TwoTasks(TwoTasks.Config(), multi.dataset.spec)
    assert all(not torch.equal(p, q) for p, q in zip(multi.model.parameters(), initial.parameters()))
    records = [r for r in read_metrics(tmp_path / "multi" / "metrics.jsonl") if "loss/a" in r]
    assert records, "no per-task losses logged"
    r = records[-1]
    assert {"loss/a", "loss/b", "weight/a", "weight/b"} <= set(r)
    assert r["weight/a"] == pytest.approx(W_A) and r["weight/b"] == pytest.approx(W_B)


def test_on_step_end_runs_once_per_optimizer_step(tmp_path):
    t = Trainer(config({"name": "test-hooks"}, train__steps=3, train__grad_accum=2), tmp_path)
    t.fit()
    assert t.model.micro_batches == 6
    assert t.model.step_ends == [0, 1, 2]


def test_extra_state_resumes_exactly(tmp_path):
    def cfg(steps):
        return config({"name": "test-counter"}, train__steps=steps, train__ckpt_every=3)

    full = Trainer(cfg(6), tmp_path / "full")
    full.fit()
    Trainer(cfg(3), tmp_path / "split").fit()
    resumed = Trainer(cfg(6), tmp_path / "split", resume=True)
    assert int(resumed.model.counter) == 3
    resumed.fit()
    assert int(full.model.counter) == int(resumed.model.counter) == 6
    torch.testing.assert_close(full.model.w, resumed.model.w, rtol=0, atol=0)


def test_groups_sharing_a_parameter_are_refused(tmp_path):
    with pytest.raises(ValueError, match="share a parameter"):
        Trainer(config({"name": "test-shared"}), tmp_path)


def test_labelled_batches_reach_the_model(tmp_path):
    raw_cfg = config({"name": "test-labels"}, train__steps=2, data__name="digits", data__batch_size=16)
    t = Trainer(raw_cfg, tmp_path)
    t.fit()
    assert t.model.spec.n_classes == 10 and t.model.spec.shape == (1, 8, 8)
    assert len(t.model.labels) == 2
    for y in t.model.labels:
        assert y.shape == (16,)
        assert not y.dtype.is_floating_point and not y.dtype.is_complex
        assert int(y.min()) >= 0 and int(y.max()) <= 9
