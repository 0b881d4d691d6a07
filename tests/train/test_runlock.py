"""One process per run folder: a second trainer (fresh, resumed or overwriting) is refused."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from genlab.cli import main
from genlab.config import Config
from genlab.core.errors import ConfigError
from genlab.train import Trainer
from genlab.train.runlock import RunLock
from tests.conftest import tiny_vae

ROOT = Path(__file__).resolve().parents[2]
HOLDER = """
import sys, time
from genlab.train.runlock import RunLock
RunLock(sys.argv[1])
print("locked", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def held(tmp_path):
    """The run folder `tmp_path / run`, locked by another process for the test's duration."""
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(run)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd=ROOT,
                            env={"PYTHONPATH": str(ROOT / "src"), "PATH": ""})
    assert proc.stdout.readline().strip() == "locked"
    yield run
    proc.stdin.close()
    proc.wait(timeout=20)


def test_second_trainer_is_refused(held):
    with pytest.raises(ConfigError, match="in use by another genlab process") as info:
        Trainer(Config.from_dict(tiny_vae(train__steps=1)), held)
    assert str(held) in str(info.value)
    assert sorted(p.name for p in held.iterdir()) == [".lock"]  # nothing written


def test_cli_overwrite_and_resume_refused_before_deleting(tmp_path, held, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(tiny_vae(train__steps=2)))
    (held / "checkpoints").mkdir()
    (held / "metrics.jsonl").write_text('{"step": 1, "loss": 1.0}\n')
    (held / "config.yaml").write_text(Config.from_dict(tiny_vae(train__steps=2)).to_yaml())
    for argv in ([str(cfg), "--overwrite"], ["--resume"]):
        assert main(["train", *argv, "--out", str(held)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(held) in err and "in use" in err
        assert (held / "checkpoints").is_dir() and (held / "metrics.jsonl").is_file()


def test_lock_released_by_close(tmp_path):
    t = Trainer(Config.from_dict(tiny_vae(train__steps=1)), tmp_path)
    t.close()
    probe = subprocess.run([sys.executable, "-c", HOLDER, str(tmp_path)], input="", capture_output=True,
                           text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT / "src"), "PATH": ""})
    assert probe.returncode == 0 and "locked" in probe.stdout, probe.stderr


def test_lock_shared_within_a_process(tmp_path):
    outer = RunLock(tmp_path)
    t = Trainer(Config.from_dict(tiny_vae(train__steps=1)), tmp_path)  # the CLI's --overwrite path
    t.close()
    outer.release()
