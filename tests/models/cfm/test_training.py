"""The `cfm` model through genlab's trainer: bit-exact resume, presets, sampling options."""

import json
import math

import pytest
import torch

from genlab.cli import main
from genlab.config import Config, load_config
from genlab.models.cfm import CFM
from genlab.presets import load_preset_dict, preset_names
from genlab.runs import load_run
from genlab.train import Trainer
from tests.models.gan.test_presets import tiny_fashion

CFM_PRESETS = [n for n in preset_names() if load_preset_dict(n)["model"]["name"] == "cfm"]

CASES = {  # OT pairing from a toy source (numpy sampler seeded from torch); I-CFM noise on images
    "toy": ({"path": "otcfm", "sigma": 0.0, "source": "8gaussians", "hidden": 16, "depth": 2,
             "solver": "euler", "steps": 4}, {"name": "moons", "batch_size": 16, "n_samples": 256}),
    "image": ({"path": "icfm", "sigma": 0.1, "hidden": 8, "mults": [1], "attention": False,
               "solver": "euler", "steps": 2}, {"name": "digits", "batch_size": 8}),
}


def config(case: str, steps: int) -> Config:
    model, data = CASES[case]
    return Config.from_dict({
        "model": {"name": "cfm", **model}, "data": data,
        "optim": {"default": {"name": "adam", "lr": 1e-3, "ema": 0.9}},
        "train": {"steps": steps, "log_every": 1, "ckpt_every": 3, "progress": False, "device": "cpu",
                  "n_samples": 4},
    })


@pytest.mark.parametrize("case", sorted(CASES))
def test_resume_is_bit_exact(case, tmp_path):
    full = Trainer(config(case, 6), tmp_path / "full")
    full.fit()
    Trainer(config(case, 3), tmp_path / "split").fit()
    resumed = Trainer(config(case, 6), tmp_path / "split", resume=True)
    assert resumed.step == 3
    resumed.fit()
    for (name, p), q in zip(full.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(p, q), name
    records = [json.loads(line) for line in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in records if "loss" in r]
    assert len(losses) == 6 and all(math.isfinite(v) for v in losses)


def test_loaded_run_samples_with_nfe(tmp_path):
    Trainer(config("toy", 3), tmp_path / "run").fit()
    run = load_run(tmp_path / "run", device="cpu")
    model = run.model
    assert isinstance(model, CFM)
    x, nfe = model.sample_with_nfe(9, solver="midpoint", steps=3)
    assert x.shape == (9, 2) and torch.isfinite(x).all() and nfe == 6
    model.sample(5)
    assert model.last_nfe == 4  # the configured euler, 4 steps
    x, nfe = model.sample_with_nfe(5, solver="dopri5")
    assert nfe > 6 and torch.isfinite(x).all()


def test_toy_source_needs_2d_data():
    from genlab.core.errors import ConfigError

    with pytest.raises(ConfigError, match="model.source=moons"):
        Trainer(Config.from_dict({"model": {"name": "cfm", "source": "moons"}, "data": {"name": "digits"},
                                  "train": {"steps": 1, "progress": False}}), "/nonexistent/never")


def test_cfm_presets_are_listed():
    assert {"cfm-8gaussians", "cfm-moons", "cfm-digits", "cfm-fashion"} <= set(CFM_PRESETS)
    assert CFM.default_ema == 0.999
    for name in CFM_PRESETS:  # EMA on in every preset, as the family's default says
        assert load_config(name).optim["default"].ema is not None


@pytest.mark.parametrize("name", CFM_PRESETS)
def test_preset_smoke_via_cli(name, tmp_path, capsys):
    raw = load_preset_dict(name)
    overrides = ["train.steps=3", "train.log_every=1", "train.ckpt_every=0", "train.sample_every=0",
                 "train.eval_every=0", "train.n_samples=4", "train.progress=false", "train.device=cpu",
                 "model.hidden=8", "model.solver=euler", "model.steps=2", "data.batch_size=8"]
    if raw["data"]["name"] in ("8gaussians", "25gaussians", "moons"):
        overrides.append("data.n_samples=256")
    if raw["data"]["name"] == "fashion-mnist":
        tiny_fashion(tmp_path / "fashion")
        overrides.append(f"data.data_dir={tmp_path / 'fashion'}")
    load_config(name, overrides)
    run_dir = tmp_path / "run"
    assert main(["train", name, "--out", str(run_dir), *overrides]) == 0
    capsys.readouterr()
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in records if "loss" in r]
    assert len(losses) == 3 and all(math.isfinite(v) for v in losses)
    assert list((run_dir / "samples").glob("*.png"))


def test_sample_and_eval_take_runtime_options(tmp_path, capsys):
    Trainer(config("toy", 2), tmp_path / "run").fit()
    run = load_run(tmp_path / "run", "cpu", overrides=["model.solver=midpoint", "model.steps=3"])
    torch.manual_seed(0)
    run.model.sample(8)
    assert run.model.last_nfe == 6  # midpoint: two velocity evaluations per step
    assert main(["eval", str(tmp_path / "run"), "--n-samples", "64", "model.solver=euler",
                 "model.steps=5"]) == 0
    out = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert out["samples"]["nfe"] == 5 and out["runtime_overrides"] == ["model.solver=euler", "model.steps=5"]
    assert main(["sample", str(tmp_path / "run"), "-o", str(tmp_path / "s.png"), "model.hidden=4"]) == 2
    assert "cannot be changed for a trained run" in capsys.readouterr().err
