"""Two CPU processes under torchrun (gloo): replicas stay identical, a resumed run matches, and
every way out (end of training, the NaN guard, SIGINT/SIGTERM) tears the process group down cleanly.

Rank 0 outlives rank 1 on purpose in these runs: a rank exiting with the gloo group alive while its
peer is still up is what used to abort with SIGABRT ("terminate called without an active exception").
"""

import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from tests.conftest import tiny_vae

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys, time, torch, yaml
import torch.distributed as dist
import tests.toy_models
tests.toy_models.register()
from genlab.config import Config
from genlab.train import Trainer
cfg_path, run, resume, out = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4]
t = Trainer(Config.from_dict(yaml.safe_load(open(cfg_path))), run, resume=resume)
try:
    t.fit()
    torch.save({k: v.detach().clone() for k, v in t.model.state_dict().items()},
               f"{out}.rank{dist.get_rank()}.pt")
finally:
    if dist.get_rank() == 0:
        time.sleep(1.0)  # outlive rank 1
"""


ENV = {**os.environ, "OMP_NUM_THREADS": "1",
       "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")])}
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
ABORTED = ("terminate called", "exitcode: -6", "SIGABRT")


def write_config(tmp_path: Path, name: str, **train) -> Path:
    raw = tiny_vae(**{f"train__{k}": v for k, v in train.items()})
    raw["optim"]["default"]["ema"] = 0.9
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def launch(tmp_path: Path, steps: int, run: str, resume: bool, out: str,
           cfg: Path | None = None) -> subprocess.CompletedProcess:
    cfg = cfg or write_config(tmp_path, f"cfg{steps}", steps=steps, ckpt_every=4, log_every=2)
    script = tmp_path / "ddp_child.py"
    script.write_text(SCRIPT)
    cmd = [*TORCHRUN, str(script), str(cfg), str(tmp_path / run), "1" if resume else "0",
           str(tmp_path / out)]
    proc = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=240, cwd=ROOT)
    output = proc.stdout + proc.stderr
    assert not any(a in output for a in ABORTED), output[-3000:]
    if cfg.name.startswith("cfg"):
        assert proc.returncode == 0, output[-3000:]
    return proc


def states(tmp_path: Path, out: str):
    return [torch.load(tmp_path / f"{out}.rank{r}.pt", weights_only=True) for r in (0, 1)]


@pytest.mark.slow
def test_two_process_training_stays_in_sync_and_resumes(tmp_path):
    launch(tmp_path, 12, "full", False, "full")
    r0, r1 = states(tmp_path, "full")
    assert all(torch.equal(r0[k], r1[k]) for k in r0)  # identical replicas

    # The split run is also tracked in MLflow where it is installed: rank 0 alone logs into it.
    loggers = ["mlflow"] if importlib.util.find_spec("mlflow") else []
    for steps in (8, 12):
        write_config(tmp_path, f"cfg-tracked{steps}", steps=steps, ckpt_every=4, log_every=2, loggers=loggers)
    launch(tmp_path, 8, "split", False, "half", cfg=tmp_path / "cfg-tracked8.yaml")
    launch(tmp_path, 12, "split", True, "resumed", cfg=tmp_path / "cfg-tracked12.yaml")
    s0, s1 = states(tmp_path, "resumed")
    assert all(torch.equal(s0[k], s1[k]) for k in s0)
    assert all(torch.allclose(r0[k], s0[k], atol=1e-6) for k in r0)  # resume == uninterrupted
    h0, _ = states(tmp_path, "half")
    assert any(not torch.equal(h0[k], s0[k]) for k in h0)  # and it really trained on
    assert (tmp_path / "split" / "checkpoints" / "step-0000012").is_dir()
    from genlab.train.runlog import read_metrics
    steps = [r["step"] for r in read_metrics(tmp_path / "split" / "metrics.jsonl") if "loss" in r]
    assert steps == [2, 4, 6, 8, 10, 12]  # one writer (rank 0): no duplicated records
    if loggers:
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        from mlflow.tracking import MlflowClient

        client = MlflowClient((tmp_path / "split" / "mlruns").as_uri())
        [experiment] = [e for e in client.search_experiments() if e.name == "genlab"]
        [run] = client.search_runs([experiment.experiment_id])
        assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == steps


@pytest.mark.slow
def test_nan_guard_under_torchrun_stops_every_rank_cleanly(tmp_path):
    raw = tiny_vae(train__steps=50, train__log_every=5)
    raw["model"] = {"name": "test-mean", "nan_at_step": 7}
    cfg = tmp_path / "nan.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    proc = launch(tmp_path, 50, "nan", False, "nan", cfg=cfg)
    assert proc.returncode != 0
    assert "NonFiniteLossError" in proc.stderr and "at step 8" in proc.stderr


def logged_steps(run: Path) -> list[int]:
    from genlab.train.runlog import read_metrics
    path = run / "metrics.jsonl"
    return [r["step"] for r in read_metrics(path) if "loss" in r] if path.is_file() else []


def rank_logs(log_dir: Path) -> dict[int, str]:
    """Each worker's stdout+stderr, from torchrun's --log-dir/--redirects files."""
    logs: dict[int, str] = {}
    for path in sorted(log_dir.rglob("std*.log")):
        rank = int(path.parent.name)
        logs[rank] = logs.get(rank, "") + path.read_text()
    return logs


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_cli_under_torchrun_stops_on_signal_with_a_checkpoint(tmp_path, sig):
    """SIGTERM goes to torchrun (which forwards it); SIGINT to the whole group, as Ctrl-C does.

    Checked per rank, from the workers' own log files: torchrun's launcher itself re-raises the
    signal as a SignalException and skips its rendezvous shutdown, so its own exit is torch's
    business (it can abort in its finalisation, whatever the workers did)."""
    from genlab.core.checkpoint import latest_checkpoint, load_checkpoint

    cfg = write_config(tmp_path, "long", steps=100000, ckpt_every=0, sample_every=0)
    run, logs = tmp_path / "run", tmp_path / "logs"
    cmd = [*TORCHRUN, "--log-dir", str(logs), "--redirects", "3", "-m", "genlab", "train", str(cfg),
           "--out", str(run)]
    proc = subprocess.Popen(cmd, env=ENV, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    deadline = time.time() + 180
    while len(logged_steps(run)) < 3:
        assert proc.poll() is None and time.time() < deadline, proc.communicate()[0][-3000:]
        time.sleep(0.05)
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    launcher = proc.communicate(timeout=120)[0]
    workers = rank_logs(logs)
    assert sorted(workers) == [0, 1], launcher[-3000:]
    for rank, output in workers.items():
        assert not any(a in output for a in ABORTED), f"rank {rank}:\n{output[-3000:]}"
        assert "Traceback" not in output, f"rank {rank}:\n{output[-3000:]}"
    assert f"{signal.Signals(sig).name} at step" in workers[0], workers[0][-3000:]
    ckpt = latest_checkpoint(run / "checkpoints")
    _, state = load_checkpoint(ckpt)
    assert ckpt.name == f"step-{logged_steps(run)[-1]:07d}"
    assert len(state["rng"]) == 2  # both ranks reached the same boundary and saved together


@pytest.mark.slow
def test_cli_under_torchrun_exits_zero(tmp_path):
    cfg = write_config(tmp_path, "short", steps=6, ckpt_every=3, log_every=2)
    proc = subprocess.run([*TORCHRUN, "-m", "genlab", "train", str(cfg), "--out", str(tmp_path / "r")],
                          env=ENV, cwd=ROOT, capture_output=True, text=True, timeout=240)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0 and not any(a in output for a in ABORTED), output[-3000:]


JOIN_SCRIPT = """
import os, sys, yaml
from genlab.config import Config
from genlab.train import Trainer
def gloo_threads():
    names = [open(f"/proc/self/task/{t}/comm").read() for t in os.listdir("/proc/self/task")]
    return sum("gloo" in n for n in names)
with Trainer(Config.from_dict(yaml.safe_load(open(sys.argv[1]))), sys.argv[2]) as t:
    t.fit()
    during = gloo_threads()
print(f"gloo threads during={during} after={gloo_threads()}", flush=True)
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads thread names from /proc")
def test_close_really_destroys_the_process_group(tmp_path):
    """Deterministic form of the exit abort: after close() no gloo thread may be left running.

    destroy_process_group() alone leaves them if a torch module imported after the group
    exists still references it (what made one run in five abort at exit)."""
    cfg = write_config(tmp_path, "join", steps=2, ckpt_every=0, log_every=1)
    script = tmp_path / "join.py"
    script.write_text(JOIN_SCRIPT)
    proc = subprocess.run([*TORCHRUN, str(script), str(cfg), str(tmp_path / "r")], env=ENV, cwd=ROOT,
                          capture_output=True, text=True, timeout=240)
    # both ranks print to one pipe, so their lines may run together: match, don't split
    counts = re.findall(r"gloo threads during=(\d+) after=(\d+)", proc.stdout)
    assert proc.returncode == 0 and len(counts) == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert all(during != "0" and after == "0" for during, after in counts), counts


SLOW_SCRIPT = SCRIPT.replace("t = Trainer(", """_step = Trainer._train_step
def _slow_step(self):  # same numbers, slower steps: room to kill a rank mid-run
    _step(self)
    time.sleep(0.1)
Trainer._train_step = _slow_step
t = Trainer(""")


def worker_pid(rank: int, marker: str, timeout: float = 60) -> int:
    """The pid of torchrun's worker of `rank` running the script named `marker`."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                cmd = (proc / "cmdline").read_bytes().decode(errors="replace")
                env = (proc / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if marker in cmd and f"RANK={rank}".encode() in env:
                return int(proc.name)
        time.sleep(0.05)
    raise AssertionError(f"no worker of rank {rank} found")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/environ").is_file(), reason="finds the worker through /proc")
def test_kill_9_of_one_rank_then_resume_equals_the_straight_run(tmp_path):
    """kill -9 of rank 1 mid-run: the launcher stops the other rank, the last checkpoint is intact,
    and resuming under torchrun ends with the same weights as an uninterrupted two-process run."""
    from genlab.core.checkpoint import latest_checkpoint

    cfg = write_config(tmp_path, "cfg40", steps=40, ckpt_every=4, log_every=2)
    launch(tmp_path, 40, "full", False, "full", cfg=cfg)
    script = tmp_path / "slow_child.py"
    script.write_text(SLOW_SCRIPT)
    run = tmp_path / "killed"
    cmd = [*TORCHRUN, str(script), str(cfg), str(run), "0", str(tmp_path / "never")]
    proc = subprocess.Popen(cmd, env=ENV, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        victim = worker_pid(1, "slow_child.py")
        deadline = time.time() + 180
        while (ckpt := latest_checkpoint(run / "checkpoints")) is None or ckpt.name < "step-0000008":
            assert proc.poll() is None and time.time() < deadline, proc.communicate()[0][-3000:]
            time.sleep(0.02)
        os.kill(victim, signal.SIGKILL)
        output = proc.communicate(timeout=120)[0]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode != 0, output[-3000:]
    stopped_at = latest_checkpoint(run / "checkpoints")
    assert "step-0000008" <= stopped_at.name < "step-0000040", stopped_at
    launch(tmp_path, 40, "killed", True, "resumed", cfg=cfg)
    full, resumed = states(tmp_path, "full"), states(tmp_path, "resumed")
    for r in (0, 1):
        assert all(torch.allclose(full[r][k], resumed[r][k], atol=1e-6) for k in full[r])
