"""SIGINT/SIGTERM stop training at a step boundary with a checkpoint, and resume is exact."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from genlab.core.checkpoint import latest_checkpoint, load_checkpoint
from genlab.train.runlog import read_metrics
from tests.conftest import tiny_vae

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1",
       "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}


def logged_steps(run: Path) -> list[int]:
    path = run / "metrics.jsonl"
    return [r["step"] for r in read_metrics(path) if "loss" in r] if path.is_file() else []


def train(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "genlab", "train", *args], cwd=ROOT, env=ENV,
                            stderr=subprocess.PIPE, text=True, **kw)


def wait_for_steps(run: Path, proc: subprocess.Popen, n: int) -> None:
    deadline = time.time() + 120
    while len(logged_steps(run)) < n:
        assert proc.poll() is None and time.time() < deadline, "training never got going"
        time.sleep(0.02)


def config(tmp_path: Path, **train) -> Path:
    raw = tiny_vae(**{f"train__{k}": v for k, v in train.items()})
    raw["optim"]["default"]["ema"] = 0.9
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_saves_at_a_step_boundary_and_resume_is_exact(tmp_path, sig):
    cfg = config(tmp_path, steps=100000, ckpt_every=0, sample_every=0)
    run = tmp_path / "run"
    proc = train(str(cfg), "--out", str(run))
    wait_for_steps(run, proc, 3)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, err[-2000:]  # 130 for Ctrl-C, 143 for SIGTERM
    assert f"{signal.Signals(sig).name} at step" in err and "Traceback" not in err
    stop = logged_steps(run)[-1]
    ckpt = latest_checkpoint(run / "checkpoints")
    assert ckpt.name == f"step-{stop:07d}"  # saved the step it stopped at, nothing half-done

    # Resume to stop+4 and compare with a run that was never interrupted.
    end = stop + 4
    assert train("--out", str(run), "--resume", f"train.steps={end}").wait() == 0
    assert train(str(cfg), "--out", str(tmp_path / "full"), f"train.steps={end}").wait() == 0
    full = {r["step"]: r["loss"] for r in read_metrics(tmp_path / "full" / "metrics.jsonl") if "loss" in r}
    split = {r["step"]: r["loss"] for r in read_metrics(run / "metrics.jsonl") if "loss" in r}
    assert all(split[s] == full[s] for s in range(stop + 1, end + 1))  # bit-identical losses
    wa, _ = load_checkpoint(latest_checkpoint(run / "checkpoints"))
    wb, _ = load_checkpoint(latest_checkpoint(tmp_path / "full" / "checkpoints"))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_handlers_are_restored_after_fit(tmp_path):
    from genlab.config import Config
    from genlab.train import Trainer

    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    Trainer(Config.from_dict(tiny_vae(train__steps=2)), tmp_path).fit()
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
