"""Two CPU processes under torchrun (gloo): replicas stay identical, and a resumed run matches."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from tests.conftest import tiny_vae

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import sys, torch, yaml
import torch.distributed as dist
from genlab.config import Config
from genlab.train import Trainer
cfg_path, run, resume, out = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4]
t = Trainer(Config.from_dict(yaml.safe_load(open(cfg_path))), run, resume=resume)
t.fit()
torch.save({k: v.detach().clone() for k, v in t.model.state_dict().items()},
           f"{out}.rank{dist.get_rank()}.pt")
"""


def launch(tmp_path: Path, steps: int, run: str, resume: bool, out: str) -> None:
    cfg = tmp_path / f"cfg{steps}.yaml"
    raw = tiny_vae(train__steps=steps, train__ckpt_every=4, train__log_every=2)
    raw["optim"]["default"]["ema"] = 0.9
    cfg.write_text(yaml.safe_dump(raw))
    script = tmp_path / "ddp_child.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(script), str(cfg), str(tmp_path / run), "1" if resume else "0", str(tmp_path / out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def states(tmp_path: Path, out: str):
    return [torch.load(tmp_path / f"{out}.rank{r}.pt", weights_only=True) for r in (0, 1)]


@pytest.mark.slow
def test_two_process_training_stays_in_sync_and_resumes(tmp_path):
    launch(tmp_path, 12, "full", False, "full")
    r0, r1 = states(tmp_path, "full")
    assert all(torch.equal(r0[k], r1[k]) for k in r0)  # identical replicas

    launch(tmp_path, 8, "split", False, "half")
    launch(tmp_path, 12, "split", True, "resumed")
    s0, s1 = states(tmp_path, "resumed")
    assert all(torch.equal(s0[k], s1[k]) for k in s0)
    assert all(torch.allclose(r0[k], s0[k], atol=1e-6) for k in r0)  # resume == uninterrupted
    h0, _ = states(tmp_path, "half")
    assert any(not torch.equal(h0[k], s0[k]) for k in h0)  # and it really trained on
    assert (tmp_path / "split" / "checkpoints" / "step-0000012").is_dir()
    from genlab.train.runlog import read_metrics
    steps = [r["step"] for r in read_metrics(tmp_path / "split" / "metrics.jsonl") if "loss" in r]
    assert steps == [2, 4, 6, 8, 10, 12]  # one writer (rank 0): no duplicated records
