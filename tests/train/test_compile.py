"""train.compile: compiled training matches eager training; double-backward models refuse it early."""

import pytest
import torch

from genlab.config import Config
from genlab.core.errors import ConfigError
from genlab.train import Trainer
from genlab.train.runlog import read_metrics
from tests.conftest import tiny_vae


def gan_config(**model) -> Config:
    return Config.from_dict({
        "model": {"name": "gan", "hidden": 8, "depth": 1, "latent_dim": 2, **model},
        "data": {"name": "8gaussians", "batch_size": 16, "n_samples": 256},
        "train": {"steps": 2, "compile": True, "progress": False, "ckpt_every": 0},
    })


@pytest.mark.parametrize("model", [{"penalty": "gp"}, {"r1_weight": 1.0}, {"grad_norm": "gn"}])
def test_compile_refuses_double_backward_before_loading_data(tmp_path, model):
    with pytest.raises(ConfigError, match="train.compile=true.*torch.compile does not support"):
        Trainer(gan_config(critic={"objective": "wasserstein", **model}), tmp_path)
    assert not (tmp_path / "config.yaml").exists()


@pytest.mark.slow
def test_compiled_training_runs_and_matches_eager(tmp_path):
    from torch._dynamo.utils import counters

    losses = {}
    for flag in (False, True):
        torch._dynamo.reset()
        counters.clear()
        cfg = Config.from_dict(tiny_vae(train__steps=4, train__compile=flag, train__ckpt_every=0))
        trainer = Trainer(cfg, tmp_path / str(flag))
        trainer.fit()
        records = read_metrics(tmp_path / str(flag) / "metrics.jsonl")
        losses[flag] = [r["loss"] for r in records if "loss" in r]
        assert not any("_orig_mod" in k for k in trainer.model.state_dict())  # checkpoints unchanged
    assert counters["frames"]["ok"] > 0 or counters["stats"]["unique_graphs"] > 0  # compiled
    assert losses[True] == pytest.approx(losses[False], rel=1e-4, abs=1e-5)
