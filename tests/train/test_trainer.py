import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from genlab.config import Config
from genlab.core.checkpoint import latest_checkpoint, load_checkpoint
from genlab.core.errors import NonFiniteLossError
from genlab.optim.schedules import piecewise_linear
from genlab.runs import standard_hooks
from genlab.train import Trainer
from genlab.train.runlog import read_metrics
from tests.conftest import tiny_vae

ROOT = Path(__file__).resolve().parents[2]


def losses(run_dir: Path) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in read_metrics(run_dir / "metrics.jsonl") if "loss" in r}


def resumable_config(steps: int) -> Config:
    raw = tiny_vae(train__steps=steps, train__grad_accum=2)
    raw["optim"] = {"default": {"lr": 3e-3, "schedule": "warmup", "warmup_steps": 8, "ema": 0.9,
                                "grad_clip": 5.0}}
    return Config.from_dict(raw)


def test_resume_equals_uninterrupted(tmp_path):
    Trainer(resumable_config(20), tmp_path / "full").fit()
    Trainer(resumable_config(10), tmp_path / "split").fit()
    resumed = Trainer(resumable_config(20), tmp_path / "split", resume=True)
    assert resumed.step == 10
    resumed.fit()
    full, split = losses(tmp_path / "full"), losses(tmp_path / "split")
    assert sorted(full) == sorted(split) == list(range(1, 21))
    assert all(full[s] == split[s] for s in range(11, 21)), (full, split)  # bit-identical
    wa, sa = load_checkpoint(latest_checkpoint(tmp_path / "full" / "checkpoints"))
    wb, sb = load_checkpoint(latest_checkpoint(tmp_path / "split" / "checkpoints"))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    ea, eb = sa["ema"]["model"], sb["ema"]["model"]  # EMA shadow and warm-up count resume too
    assert ea["updates"] == eb["updates"] == 20
    assert all(torch.equal(x, y) for x, y in zip(ea["shadow"], eb["shadow"]))


def test_same_seed_same_numbers_other_seed_differs(tmp_path):
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        cfg = Config.from_dict(tiny_vae(train__steps=5, train__seed=seed))
        Trainer(cfg, tmp_path / name).fit()
    a, b, c = (losses(tmp_path / n) for n in "abc")
    assert a == b and a != c


def test_checkpoint_is_weights_only(tmp_path):
    Trainer(Config.from_dict(tiny_vae(train__steps=3)), tmp_path).fit()
    path = latest_checkpoint(tmp_path / "checkpoints")
    state = torch.load(path / "state.pt", weights_only=True)  # raises if any pickled object
    assert state["step"] == 3 and json.loads(state["config"])["model"]["name"] == "vae"


def test_gradient_accumulation_matches_full_batch(tmp_path, toy_models):
    def run(accum, name):
        raw = tiny_vae(train__steps=6, train__grad_accum=accum)
        raw["model"] = {"name": "test-mean"}
        raw["optim"] = {"default": {"name": "sgd", "lr": 0.05}}
        t = Trainer(Config.from_dict(raw), tmp_path / name)
        t.fit()
        return [p.detach().clone() for p in t.model.parameters()]

    for a, b in zip(run(1, "one"), run(4, "four")):
        assert torch.allclose(a, b, atol=1e-6)


def test_updates_are_applied_in_order(tmp_path, toy_models):
    raw = tiny_vae(train__steps=3)
    raw["model"] = {"name": "test-two-groups", "n_first": 2}
    raw["optim"] = {"default": {"name": "sgd", "lr": 0.25}}
    t = Trainer(Config.from_dict(raw), tmp_path)
    t.fit()
    # replay by hand: two steps on a (b fixed), then one on b (a fixed), per training step
    a = b = 0.0
    seen = []
    for _ in range(3):
        for _ in range(2):
            a -= 0.25 * 2 * (a - 1 - b)
        seen.append(a)
        b -= 0.25 * (2 * (b - 2) + a)
    assert t.model.seen == pytest.approx(seen)
    assert t.model.a.item() == pytest.approx(a) and t.model.b.item() == pytest.approx(b)


def test_unknown_optim_group_is_rejected(tmp_path):
    raw = tiny_vae()
    raw["optim"]["critic"] = {"lr": 1e-4}
    from genlab.core.errors import ConfigError
    with pytest.raises(ConfigError, match="parameter groups model"):
        Trainer(Config.from_dict(raw), tmp_path)


def test_nan_guard_stops_and_keeps_last_good_checkpoint(tmp_path, toy_models):
    raw = tiny_vae(train__steps=40, train__log_every=5, train__ckpt_every=10)
    raw["model"] = {"name": "test-mean", "nan_at_step": 23}
    t = Trainer(Config.from_dict(raw), tmp_path)
    with pytest.raises(NonFiniteLossError, match="at step 24") as err:
        t.fit()
    assert err.value.step == 24
    assert latest_checkpoint(tmp_path / "checkpoints").name == "step-0000020"
    weights, _ = load_checkpoint(latest_checkpoint(tmp_path / "checkpoints"))
    assert all(torch.isfinite(v).all() for v in weights.values())


def test_piecewise_schedule_knots():
    f = piecewise_linear({1000: 1.0, 2000: 0.1})
    assert [f(0), f(500), f(1000), f(1500), f(2000), f(9999)] == pytest.approx(
        [0.0, 0.5, 1.0, 0.55, 0.1, 0.1])


CHILD = """
import os, sys, torch, yaml
sys.path.insert(0, {root!r})
import genlab.core.checkpoint as ck
from genlab.config import Config
from genlab.train import Trainer
raw = yaml.safe_load(open({cfg!r}))
calls = {{"n": 0}}
real_save = torch.save
def dying_save(obj, f, *a, **k):
    calls["n"] += 1
    if calls["n"] == {die_on}:
        with open(f, "wb") as fh:
            fh.write(b"half a checkpoint")
        os._exit(3)
    return real_save(obj, f, *a, **k)
ck.torch.save = dying_save if {die_on} > 0 else real_save
Trainer(Config.from_dict(raw), {run!r}, resume={resume}).fit()
"""


def child(tmp_path, run, die_on=0, resume=False, steps=12, ckpt_every=4, wait=True):
    import yaml
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(tiny_vae(train__steps=steps, train__ckpt_every=ckpt_every)))
    code = CHILD.format(root=str(ROOT / "src"), cfg=str(cfg), die_on=die_on, run=str(run), resume=resume)
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    return proc.wait() if wait else proc


def test_crash_during_save_keeps_previous_checkpoint(tmp_path):
    run = tmp_path / "run"
    assert child(tmp_path, run, die_on=2) == 3  # dies while writing the step-8 checkpoint
    ckpt = latest_checkpoint(run / "checkpoints")
    assert ckpt.name == "step-0000004"
    _, state = load_checkpoint(ckpt)
    assert state["step"] == 4
    assert child(tmp_path, run, resume=True) == 0  # and the run resumes from it
    assert latest_checkpoint(run / "checkpoints").name == "step-0000012"


def test_sigkill_at_random_moments_never_corrupts(tmp_path):
    run = tmp_path / "run"
    steps = []
    for delay in (0.05, 0.2, 0.45):
        before = latest_checkpoint(run / "checkpoints")
        proc = child(tmp_path, run, steps=100000, ckpt_every=1, wait=False, resume=before is not None)
        deadline = time.time() + 120  # wait until this process is writing checkpoints ...
        while latest_checkpoint(run / "checkpoints") == before:
            assert time.time() < deadline and proc.poll() is None, "the child never wrote a checkpoint"
            time.sleep(0.02)
        time.sleep(delay)  # ... then kill it at an arbitrary moment (saves happen every step)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL  # it was still training, not dead of an error
        ckpt = latest_checkpoint(run / "checkpoints")
        weights, state = load_checkpoint(ckpt)
        assert weights and state["step"] == int(ckpt.name.split("-")[1])
        steps.append(state["step"])
    assert steps[0] >= 1 and all(a < b for a, b in zip(steps, steps[1:]))  # each resumed and went on


def test_periodic_evaluation_is_logged(tmp_path):
    cfg = Config.from_dict(tiny_vae(train__steps=10, train__eval_every=5))
    Trainer(cfg, tmp_path, hooks=standard_hooks(cfg)).fit()
    assert (tmp_path / "loss.png").is_file() and list((tmp_path / "samples").glob("step-*.png"))
    evals = [r for r in read_metrics(tmp_path / "metrics.jsonl") if "eval/modes" in r]
    assert [r["step"] for r in evals] == [5, 10]
    assert all("eval/log_likelihood_is_nats" in r and 0 <= r["eval/high_quality"] <= 1 for r in evals)
    # evaluation draws from its own random stream: the losses equal a run without it
    Trainer(Config.from_dict(tiny_vae(train__steps=10)), tmp_path / "plain").fit()
    assert losses(tmp_path) == losses(tmp_path / "plain")



def test_toy_models_are_registered_only_inside_the_fixture(toy_models):
    from genlab.models import MODELS

    assert "test-mean" in MODELS


def test_toy_models_do_not_leak_out_of_tests():
    from genlab.models import MODELS
    from tests.toy_models import registered

    # earlier tests in this file used the fixture: nothing of theirs may remain
    assert "test-mean" not in MODELS and "test-two-groups" not in MODELS
    with registered():
        assert "test-mean" in MODELS
    assert "test-mean" not in MODELS
    with pytest.raises(ValueError, match="not registered"):
        MODELS.unregister("test-mean")
