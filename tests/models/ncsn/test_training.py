"""The NCSN through genlab's real trainer: bit-exact resume (sigma_1 set from the first batch and
checkpointed), sampling from a loaded run, preset smoke runs through `genlab train`."""

import json
import math

import pytest
import torch

from genlab.cli import main
from genlab.config import Config, load_config
from genlab.models.ncsn import NCSN
from genlab.presets import load_preset_dict, preset_names
from genlab.runs import load_run
from genlab.train import Trainer
from tests.models.gan.test_presets import tiny_fashion

NCSN_PRESETS = [n for n in preset_names() if load_preset_dict(n)["model"]["name"] == "ncsn"]

CASES = {
    "vector": ({"hidden": 16, "depth": 1, "levels": 5, "steps_per_level": 2},
               {"name": "8gaussians", "batch_size": 16, "n_samples": 256}),
    "image": ({"base": 8, "mults": [1, 2], "levels": 4, "steps_per_level": 1},
              {"name": "digits", "batch_size": 8}),
}


def config(case: str, steps: int, ema: float | None = 0.9) -> Config:
    model, data = CASES[case]
    return Config.from_dict({
        "model": {"name": "ncsn", **model}, "data": data,
        "optim": {"default": {"name": "adam", "lr": 1e-3, "ema": ema}},
        "train": {"steps": steps, "log_every": 1, "ckpt_every": 3, "progress": False, "device": "cpu"},
    })


@pytest.mark.parametrize("case", sorted(CASES))
def test_resume_is_bit_exact(case, tmp_path):
    full = Trainer(config(case, 6), tmp_path / "full")
    full.fit()
    Trainer(config(case, 3), tmp_path / "split").fit()
    resumed = Trainer(config(case, 6), tmp_path / "split", resume=True)
    assert resumed.step == 3 and float(resumed.model.sigma_max) == float(full.model.sigma_max) > 0
    resumed.fit()
    for (name, p), q in zip(full.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(p, q), name
    assert set(full.emas) == {"model"}
    a, b = full.emas["model"].state_dict(), resumed.emas["model"].state_dict()
    assert a["updates"] == b["updates"] == 6
    assert all(torch.equal(u, v) for u, v in zip(a["shadow"], b["shadow"]))
    # sampling after resume draws the same chains as the uninterrupted run
    with full.ema_weights(), resumed.ema_weights():
        torch.manual_seed(5)
        a = full.model.sample(4)
        torch.manual_seed(5)
        b = resumed.model.sample(4)
    assert torch.equal(a, b)


def test_loaded_run_samples_with_its_sigma_max(tmp_path):
    trainer = Trainer(config("vector", 3), tmp_path / "run")
    trainer.fit()
    run = load_run(tmp_path / "run", device="cpu")
    assert isinstance(run.model, NCSN)
    assert float(run.model.sigma_max) == float(trainer.model.sigma_max) > 0
    x = run.model.sample(7, steps_per_level=3)
    assert x.shape == (7, 2) and torch.isfinite(x).all()
    assert run.model.last_nfe == 5 * 3 + 1 and run.model.nfe == 5 * 2 + 1
    x, nfe = run.model.sample_with_nfe(2, steps_per_level=1, denoise=False)
    assert x.shape == (2, 2) and nfe == run.model.last_nfe == 5


def test_ncsn_presets_are_listed_with_ema():
    assert {"ncsn-8gaussians", "ncsn-moons", "ncsn-digits", "ncsn-fashion"} <= set(NCSN_PRESETS)
    for name in NCSN_PRESETS:
        assert load_config(name, []).optim["default"].ema == pytest.approx(NCSN.default_ema)


@pytest.mark.parametrize("name", NCSN_PRESETS)
def test_preset_smoke_via_cli(name, tmp_path, capsys):
    raw = load_preset_dict(name)
    overrides = ["train.steps=2", "train.log_every=1", "train.ckpt_every=0", "train.sample_every=0",
                 "train.eval_every=0", "train.n_samples=4", "train.progress=false", "train.device=cpu",
                 "model.steps_per_level=1", "data.batch_size=8"]
    if raw["data"]["name"] in ("8gaussians", "moons"):
        overrides += ["data.n_samples=256", "model.hidden=8"]
    else:
        overrides += ["model.base=8"]
    if raw["data"]["name"] == "fashion-mnist":  # a tiny stand-in, so the test needs no installed data
        tiny_fashion(tmp_path / "fashion")
        overrides.append(f"data.data_dir={tmp_path / 'fashion'}")
    load_config(name, overrides)
    run_dir = tmp_path / "run"
    assert main(["train", name, "--out", str(run_dir), *overrides]) == 0
    capsys.readouterr()
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in records if "loss" in r]
    assert len(losses) == 2 and all(math.isfinite(v) for v in losses)
    assert list((run_dir / "samples").glob("*.png"))


def test_eval_reports_the_samplers_nfe(tmp_path):
    from genlab.eval.evaluate import evaluate

    Trainer(config("vector", 2), tmp_path / "run").fit()
    run = load_run(tmp_path / "run", device="cpu")
    out = evaluate(run.model, run.dataset, run.pixels, run.cfg.eval, "cpu", n_samples=300, probe=False)
    assert out["samples"]["nfe"] == 5 * 2 + 1 and out["samples"]["n_fake"] == 300


def test_sample_takes_runtime_options(tmp_path, capsys):
    Trainer(config("vector", 2), tmp_path / "run").fit()
    run = load_run(tmp_path / "run", "cpu", overrides=["model.steps_per_level=3", "model.denoise=false"])
    run.model.sample(8)
    assert run.model.last_nfe == 5 * 3  # levels x steps, no final denoising step
    assert main(["sample", str(tmp_path / "run"), "-n", "4", "-o", str(tmp_path / "s.png"),
                 "model.steps_per_level=1"]) == 0
    assert main(["sample", str(tmp_path / "run"), "-o", str(tmp_path / "t.png"), "model.levels=9"]) == 2
    assert "cannot be changed for a trained run" in capsys.readouterr().err
