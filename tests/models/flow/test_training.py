"""Flows on the real trainer: ActNorm's data-dependent init survives save/resume; every flow preset
trains and evaluates for a few steps (Fashion-MNIST presets on tiny IDX files written here)."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from genlab.config import load_config
from genlab.eval.evaluate import likelihood_metrics
from genlab.models.flow import ActNorm
from genlab.train import Trainer

torch.set_num_threads(1)
FAST = ["train.device=cpu", "train.progress=false", "train.log_every=1", "train.n_samples=4",
        "data.batch_size=16", "eval.n_test=32", "eval.batch_size=32"]


def write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + b"".join(
        struct.pack(">I", d) for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


@pytest.fixture(scope="module")
def tiny_fashion(tmp_path_factory) -> Path:
    """40 train / 32 test random 28x28 8-bit images in the four IDX files genlab reads."""
    d = tmp_path_factory.mktemp("fashion")
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 40), ("t10k", 32)):
        write_idx(d / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        write_idx(d / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, (n,)))
    return d


def actnorms(model) -> list[ActNorm]:
    return [m for m in model.modules() if isinstance(m, ActNorm)]


def test_actnorm_init_survives_save_and_resume(tmp_path):
    over = FAST + ["model.hidden=8", "model.steps=2", "model.levels=1", "train.steps=3",
                   "train.ckpt_every=3"]
    first = Trainer(load_config("glow-digits", over), tmp_path)
    assert not any(bool(a.initialized) for a in actnorms(first.model))
    first.fit()
    saved = {k: v.clone() for k, v in first.model.state_dict().items()}
    assert all(bool(a.initialized) for a in actnorms(first.model))

    resumed = Trainer(load_config("glow-digits", [*over, "train.steps=5"]), tmp_path, resume=True)
    assert resumed.step == 3
    for k, v in resumed.model.state_dict().items():
        assert torch.equal(v, saved[k]), k
    assert all(bool(a.initialized) for a in actnorms(resumed.model))
    # A differently scaled batch in training mode must not trigger a second initialisation.
    resumed.model.train()
    resumed.model.log_likelihood(torch.rand(16, 1, 8, 8) * 5 + 3)
    for k, v in resumed.model.state_dict().items():
        assert torch.equal(v, saved[k]), k
    resumed.fit()
    assert resumed.step == 5


FLOW_PRESETS = ["nice-digits", "realnvp-moons", "realnvp-digits", "glow-digits", "realnvp-fashion",
                "glow-fashion"]
SHRINK = {"nice": ["model.hidden=16", "model.depth=1"],
          "realnvp": ["model.hidden=8", "model.couplings=1"],
          "glow": ["model.hidden=8", "model.steps=1"]}


@pytest.mark.parametrize("preset", FLOW_PRESETS)
def test_flow_preset_smoke(preset, tmp_path, tiny_fashion):
    over = [*FAST, "train.steps=3", "train.ckpt_every=0", "data.n_samples=200"]
    if "fashion" in preset:
        over.append(f"data.data_dir={tiny_fashion}")
    name = load_config(preset).model.name
    trainer = Trainer(load_config(preset, over + SHRINK[name]), tmp_path)
    record = trainer.fit()
    assert math.isfinite(record["loss"])
    result = likelihood_metrics(trainer.model.eval(), trainer.dataset, trainer.pixels,
                                trainer.cfg.eval, trainer.device)
    assert math.isfinite(result["log_likelihood_nats"])
    if trainer.pixels is not None:
        assert 0 < result["log_likelihood_bits_per_dim"] < 30
    assert trainer.model.sample(2).shape == (2, *trainer.dataset.shape)
