"""Resume semantics: lr schedule horizon on a changed train.steps, and refusing to append to a run."""

import math

import pytest
import yaml

from genlab.cli import main
from genlab.config import Config
from genlab.core.errors import ConfigError
from genlab.train import Trainer
from genlab.train.runlog import read_metrics
from tests.conftest import tiny_vae

LR, FLOOR = 1e-2, 0.1


def cosine_cfg(steps: int, **extra) -> Config:
    raw = tiny_vae(train__steps=steps, **extra)
    raw["optim"] = {"default": {"lr": LR, "schedule": "cosine", "min_lr_ratio": FLOOR}}
    return Config.from_dict(raw)


def cosine(step: int, horizon: int) -> float:
    """SGDR's half cosine without warm-up (arXiv:1608.03983), held at the floor past the horizon."""
    return LR * (FLOOR + (1 - FLOOR) * 0.5 * (1 + math.cos(math.pi * min(1.0, step / horizon))))


def lrs(run_dir) -> dict[int, float]:
    return {r["step"]: r["lr/model"] for r in read_metrics(run_dir / "metrics.jsonl") if "lr/model" in r}


@pytest.mark.parametrize("replan", [False, True])
def test_changed_steps_keep_or_replan_the_schedule(tmp_path, capsys, replan):
    Trainer(cosine_cfg(10), tmp_path).fit()
    capsys.readouterr()
    cfg = cosine_cfg(14, train__replan_schedule=replan)
    t = Trainer(cfg, tmp_path, resume=True)
    t.fit()
    err = capsys.readouterr().err
    assert err.count("train.steps changed 10 -> 14") == 1
    assert ("re-planning" in err) == replan
    horizon = 14 if replan else 10
    got = lrs(tmp_path)
    for s in range(11, 15):
        assert got[s] == pytest.approx(cosine(s, horizon), rel=1e-12), s
    assert all(got[s] == pytest.approx(cosine(s, 10), rel=1e-12) for s in range(1, 11))
    # The horizon travels with the checkpoint: resuming again with the same steps changes nothing.
    Trainer(cosine_cfg(16), tmp_path, resume=True).fit()
    assert lrs(tmp_path)[16] == pytest.approx(cosine(16, horizon), rel=1e-12)


def test_same_steps_print_nothing(tmp_path, capsys):
    Trainer(cosine_cfg(4), tmp_path).fit()
    Trainer(cosine_cfg(4), tmp_path, resume=True).fit()
    assert "train.steps changed" not in capsys.readouterr().err


@pytest.mark.parametrize("leftover", ["trained", "metrics.jsonl"])
def test_python_trainer_refuses_an_existing_run(tmp_path, leftover):
    if leftover == "trained":
        Trainer(Config.from_dict(tiny_vae(train__steps=1)), tmp_path).fit()
    else:
        (tmp_path / "metrics.jsonl").write_text('{"step": 1, "loss": 1.0}\n')
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    with pytest.raises(ConfigError, match="already holds a run.*resume=True"):
        Trainer(Config.from_dict(tiny_vae(train__steps=2)), tmp_path)
    after = {p.name: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.name != ".lock"}
    assert after == {k: v for k, v in before.items() if k != ".lock"}  # nothing touched


def test_cli_overwrite_still_starts_over(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(tiny_vae(train__steps=2, train__sample_every=0)))
    run = tmp_path / "run"
    assert main(["train", str(cfg), "--out", str(run)]) == 0
    assert main(["train", str(cfg), "--out", str(run), "--overwrite", "train.steps=1"]) == 0
    assert [r["step"] for r in read_metrics(run / "metrics.jsonl") if "loss" in r] == [1]


def test_relative_data_dir_saved_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    t = Trainer(Config.from_dict(tiny_vae(train__steps=1, data__data_dir="data")), "run")
    t.close()
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["data"]["data_dir"] == str(tmp_path / "data")
