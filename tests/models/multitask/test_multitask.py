"""The multi-task example: every task weighting trains through the Trainer and logs each task's loss
and weight; the weights follow their rules' closed forms; uncertainty and MGDA-UB against direct
computations; exact resume with a stateful rule."""

import math

import pytest
import torch

from genlab.config import Config
from genlab.core.errors import ConfigError
from genlab.core.protocol import DataSpec, StepContext
from genlab.core.typed import build_dataclass
from genlab.models.multitask import TASK_WEIGHTINGS, MultiTask, rotate_quarters
from genlab.mtl import min_norm_weights
from genlab.train.runlog import read_metrics
from genlab.train.trainer import Trainer

TASKS = ("class", "reconstruction", "rotation")
SPEC = DataSpec((1, 8, 8), levels=17, n_classes=10)


def config(steps, **model):
    return Config.from_dict({
        "model": {"name": "multitask", "features": 16, "hidden": 32, "depth": 1, **model},
        "data": {"name": "digits", "batch_size": 32},
        "optim": {"default": {"lr": 1e-3}},
        "train": {"steps": steps, "log_every": 1, "ckpt_every": 0, "sample_every": 0, "progress": False,
                  "device": "cpu"},
        "eval": {"n_test": 0},
    })


def batch(n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"x": torch.rand(n, *SPEC.shape, generator=g), "y": torch.randint(0, 10, (n,), generator=g)}


def check_rule(name, rec):
    loss = {t: rec[f"loss/{t}"] for t in TASKS}
    w = {t: rec[f"weight/{t}"] for t in TASKS}
    if name == "fixed":
        assert all(v == pytest.approx(1 / 3) for v in w.values())
    elif name == "realtime":
        assert all(w[t] * loss[t] == pytest.approx(1, rel=1e-5) for t in TASKS)
    elif name in ("geometric", "power_mean"):  # gamma 0: w_i L_i = M / T, the same for every task
        geo = math.exp(sum(math.log(v) for v in loss.values()) / 3)
        assert all(w[t] * loss[t] == pytest.approx(geo / 3, rel=1e-4) for t in TASKS)
    elif name in ("mgda", "mgda_ub"):
        assert sum(w.values()) == pytest.approx(1, abs=1e-5) and min(w.values()) >= 0
    elif name == "uncertainty":
        assert rec["weight/log_variance"] == 1.0
    else:
        assert all(v > 0 for v in w.values())


@pytest.mark.parametrize("name", TASK_WEIGHTINGS.names())
def test_trains_with_every_weighting_and_logs_each_task(name, tmp_path):
    Trainer(config(3, task_weighting=name), tmp_path).fit()
    records = [r for r in read_metrics(tmp_path / "metrics.jsonl") if "loss/class" in r]
    assert [r["step"] for r in records] == [1, 2, 3]
    for rec in records:
        for t in TASKS:
            assert math.isfinite(rec[f"loss/{t}"]) and math.isfinite(rec[f"weight/{t}"]), (t, rec)
        assert 0 <= rec["accuracy"] <= 1 and 0 <= rec["rotation_accuracy"] <= 1
        check_rule(name, rec)
    first = records[0]
    if name == "initial":  # 1 / L_i^init: weight x loss is 1 at the first step, not later
        assert all(first[f"weight/{t}"] * first[f"loss/{t}"] == pytest.approx(1, rel=1e-5) for t in TASKS)
        assert records[-1]["weight/class"] == pytest.approx(first["weight/class"])
    if name == "uncertainty":  # s_i = 0 at the start: classification 1, regression 1/2
        assert first["weight/class"] == 1.0 and first["weight/reconstruction"] == 0.5
        assert records[-1]["weight/class"] != 1.0  # the log-variances learn
    if name == "prior":  # label entropy <= log K, pixel variance < 1 over the digits in [0, 1]
        assert first["weight/class"] >= 1 / math.log(10) - 1e-6
        assert first["weight/rotation"] >= 1 / math.log(4) - 1e-6


def test_resume_with_initial_losses_equals_uninterrupted(tmp_path):
    def run(steps, out, resume=False):
        cfg = config(steps, task_weighting="initial")
        cfg.train.ckpt_every = 2
        t = Trainer(cfg, tmp_path / out, resume=resume)
        t.fit()
        return t.model.state_dict(), t.model.extra_state()

    full, full_extra = run(4, "full")
    run(2, "split")
    resumed, extra = run(4, "split", resume=True)
    assert all(torch.equal(full[k], resumed[k]) for k in full)
    assert torch.equal(extra["weighting"]["initial_losses"]["class"],
                       full_extra["weighting"]["initial_losses"]["class"])


def test_uncertainty_direction_is_the_gradient_of_kendalls_loss():
    torch.manual_seed(0)
    model = MultiTask(MultiTask.Config(features=8, hidden=8, depth=1, task_weighting="uncertainty"), SPEC)
    with torch.no_grad():
        model.weighting.uncertainty.log_vars.copy_(torch.tensor([0.3, -0.5, 1.1]))
    params = list(model.parameters())
    torch.manual_seed(1)
    (u,) = model.train_step(batch(), StepContext(0))
    w = u.combine.weights({k: v.detach() for k, v in u.losses.items()})
    direction = torch.autograd.grad(sum(w[k] * v for k, v in u.losses.items()), params, retain_graph=True)
    # Kendall et al. eq. 7 with s = log sigma^2, written out by hand
    s = model.weighting.uncertainty.log_vars
    L = [u.losses[t] for t in TASKS]
    kendall = (torch.exp(-s[0]) * L[0] + 0.5 * torch.exp(-s[1]) * L[1] + torch.exp(-s[2]) * L[2]
               + 0.5 * s.sum())
    for a, b in zip(direction, torch.autograd.grad(kendall, params)):
        assert torch.allclose(a, b, atol=1e-6)


def test_mgda_ub_weights_are_the_two_task_closed_form():
    torch.manual_seed(0)
    model = MultiTask(MultiTask.Config(features=8, hidden=8, depth=1, rotation=False,
                                       task_weighting="mgda_ub"), SPEC)
    (u,) = model.train_step(batch(), StepContext(0))
    w = u.combine.weights(u.losses)
    # the same losses again, to differentiate w.r.t. the shared features directly
    b = batch()
    z = model.encode(b["x"])
    g1 = torch.autograd.grad(torch.nn.functional.cross_entropy(model.classify(z), b["y"]), z,
                             retain_graph=True)[0].flatten()
    g2 = torch.autograd.grad(torch.nn.functional.mse_loss(model.decoder(z), b["x"]), z)[0].flatten()
    c = float(((g2 - g1) @ g2) / (g1 - g2).square().sum())  # argmin ||c g1 + (1 - c) g2||
    c = min(max(c, 0.0), 1.0)
    assert float(w["class"]) == pytest.approx(c, abs=1e-5)
    assert float(w["reconstruction"]) == pytest.approx(1 - c, abs=1e-5)
    G = torch.stack([g1, g2]).double()
    assert float(min_norm_weights(G @ G.T)[0]) == pytest.approx(c, abs=1e-6)


def test_rotation_and_step_losses():
    x = torch.arange(2 * 9.0).view(2, 1, 3, 3)
    k = torch.tensor([1, 3])
    r = rotate_quarters(x, k)
    assert torch.equal(r[0], torch.rot90(x[0], 1, (-2, -1)))
    assert torch.equal(r[1], torch.rot90(x[1], -1, (-2, -1)))
    torch.manual_seed(0)
    model = MultiTask(MultiTask.Config(features=8, hidden=8, depth=1, rotation=False), SPEC)
    b = batch()
    (u,) = model.train_step(b, StepContext(0))
    logits = model.classify(model.encode(b["x"]))
    assert torch.allclose(u.losses["class"], torch.nn.functional.cross_entropy(logits, b["y"]))
    assert set(u.losses) == {"class", "reconstruction"}
    metrics = model.task_metrics(b["x"], b["y"])
    assert set(metrics) == {"accuracy", "reconstruction_mse"}


def test_config_errors():
    with pytest.raises(ConfigError, match="unknown model.task_weighting 'nope'"):
        build_dataclass(MultiTask.Config, {"task_weighting": "nope"}, "model.")  # the YAML / override path
    with pytest.raises(ConfigError, match="unknown task"):
        MultiTask.Config(task_weights={"colour": 1.0})
    with pytest.raises(ConfigError, match="unknown task"):
        MultiTask.Config(rotation=False, task_priors={"rotation": 1.0})
    with pytest.raises(ConfigError, match="task_priors"):
        MultiTask.Config(task_weighting="prior", task_priors={"class": -1.0})
    with pytest.raises(ConfigError, match="labelled"):
        MultiTask(MultiTask.Config(), DataSpec((1, 8, 8), levels=17))
    with pytest.raises(ConfigError, match="square"):
        MultiTask(MultiTask.Config(), DataSpec((1, 8, 6), levels=17, n_classes=3))


@pytest.mark.parametrize("override, needle", [
    (["model.task_weighting=fixed", "model.task_weights={class: 0, reconstruction: 0, rotation: 0}"],
     "all 0"),
    (["model.task_weighting=fixed", "model.task_weights={class: -1}"], "model.task_weights.class"),
    (["model.task_weighting=prior", "model.task_priors={class: 0}"], "model.task_priors.class"),
    (["model.task_weighting=mgda", "model.task_weights={class: 2}"], "only read by task_weighting=fixed"),
    (["model.task_weighting=fixed", "model.task_priors={class: 2}"], "only read by task_weighting=prior"),
    (["model.task_weighting=mgda", "model.gamma=2"], "only read by task_weighting=power_mean"),
])
def test_task_options_are_one_line_errors_before_data(override, needle, tmp_path, capsys):
    from genlab.cli import main

    code = main(["train", "multitask-digits", "--out", str(tmp_path / "r"), *override,
                 "data.data_dir=/nonexistent/dir"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and needle in err, err
    assert not (tmp_path / "r").exists()
