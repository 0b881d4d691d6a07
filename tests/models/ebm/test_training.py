"""The EBM through genlab's real trainer: exact resume with the replay buffer, presets, `genlab train`."""

import json
import math

import pytest
import torch

from genlab.cli import main
from genlab.config import Config, load_config
from genlab.core.checkpoint import latest_checkpoint, load_checkpoint
from genlab.models.ebm import EBM
from genlab.presets import load_preset_dict, preset_names
from genlab.runs import load_run
from genlab.train import Trainer
from tests.models.gan.test_presets import tiny_fashion

EBM_PRESETS = [n for n in preset_names() if load_preset_dict(n)["model"]["name"] == "ebm"]

# vector data (float buffer, MLP) and images (uint8 buffer, conv net with spectral norm); the buffer
# is smaller than the negatives pushed, so its ring wraps before the checkpoint
CASES = {
    "vector": ({"net": "mlp", "hidden": 16, "depth": 1, "n_steps": 4, "buffer_size": 48,
                "step_size": 0.01, "grad_clip": None, "alpha": 0.1},
               {"name": "8gaussians", "batch_size": 16, "n_samples": 256}),
    "image": ({"net": "conv", "hidden": 4, "spectral_norm": True, "n_steps": 3, "buffer_size": 40},
              {"name": "digits", "batch_size": 16}),
}


def config(case: str, steps: int) -> Config:
    model, data = CASES[case]
    return Config.from_dict({
        "model": {"name": "ebm", **model}, "data": data,
        "optim": {"default": {"name": "adam", "lr": 1e-3, "betas": [0.0, 0.999]}},
        "train": {"steps": steps, "log_every": 1, "ckpt_every": 4, "progress": False, "device": "cpu"},
    })


@pytest.mark.parametrize("case", sorted(CASES))
def test_resume_with_replay_buffer_is_exact(case, tmp_path):
    full = Trainer(config(case, 8), tmp_path / "full")
    full.fit()
    Trainer(config(case, 4), tmp_path / "split").fit()
    resumed = Trainer(config(case, 8), tmp_path / "split", resume=True)
    # restored: 4 steps x 16 negatives overfilled the ring before the checkpoint
    assert resumed.step == 4 and len(resumed.model.buffer) == resumed.model.buffer.capacity
    resumed.fit()
    a, b = full.model, resumed.model
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), name  # parameters and spectral-norm vectors, bit for bit
    assert a.buffer.data.dtype == (torch.uint8 if case == "image" else torch.float32)
    assert torch.equal(a.buffer.data, b.buffer.data) and a.buffer.pos == b.buffer.pos
    # and the checkpoints hold the same per-rank buffer
    _, sa = load_checkpoint(latest_checkpoint(tmp_path / "full" / "checkpoints"))
    _, sb = load_checkpoint(latest_checkpoint(tmp_path / "split" / "checkpoints"))
    assert torch.equal(sa["extra"][0]["buffer"]["data"], sb["extra"][0]["buffer"]["data"])


def test_resume_without_the_buffer_would_differ(tmp_path):
    """The exactness above depends on the buffer: restarting from an empty one changes training."""
    Trainer(config("vector", 4), tmp_path / "split").fit()
    resumed = Trainer(config("vector", 8), tmp_path / "split", resume=True)
    kept = resumed.model.buffer.state_dict()
    resumed.model.buffer.data = resumed.model.buffer.data[:0]
    resumed.fit()
    full = Trainer(config("vector", 8), tmp_path / "full")
    full.fit()
    assert len(kept["data"]) > 0
    assert not torch.equal(full.model.buffer.data, resumed.model.buffer.data)


def test_loaded_run_samples_from_its_buffer(tmp_path):
    Trainer(config("vector", 4), tmp_path / "run").fit()
    run = load_run(tmp_path / "run", device="cpu")
    assert isinstance(run.model, EBM) and len(run.model.buffer) > 0
    with torch.no_grad():
        x = run.model.sample(7)
    assert x.shape == (7, 2) and torch.isfinite(x).all()


def test_ebm_presets_are_listed():
    assert {"ebm-8gaussians", "ebm-25gaussians", "ebm-digits", "ebm-fashion"} <= set(EBM_PRESETS)


@pytest.mark.parametrize("name", EBM_PRESETS)
def test_preset_smoke_via_cli(name, tmp_path, capsys):
    raw = load_preset_dict(name)
    overrides = ["train.steps=3", "train.log_every=1", "train.ckpt_every=0", "train.sample_every=0",
                 "train.eval_every=0", "train.n_samples=8", "train.progress=false", "train.device=cpu",
                 "model.hidden=8", "model.n_steps=2", "model.sample_steps=2", "model.buffer_size=64",
                 "data.batch_size=8"]
    if raw["data"]["name"] in ("8gaussians", "25gaussians"):
        overrides.append("data.n_samples=256")
    if raw["data"]["name"] == "fashion-mnist":  # a tiny stand-in, so the test needs no installed data
        tiny_fashion(tmp_path / "fashion")
        overrides.append(f"data.data_dir={tmp_path / 'fashion'}")
    load_config(name, overrides)  # the overrides are valid for this preset
    run_dir = tmp_path / "run"
    assert main(["train", name, "--out", str(run_dir), *overrides]) == 0
    capsys.readouterr()
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in records if "loss" in r]
    assert len(losses) == 3 and all(math.isfinite(v) for v in losses)
    assert list((run_dir / "samples").glob("*.png"))
