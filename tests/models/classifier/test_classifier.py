"""The `classifier` model (genlab's feature CNN) through the common Trainer: loss/accuracy against
a direct cross-entropy, exact resume, and the standard hooks on a model that cannot sample."""

import json

import pytest
import torch
import torch.nn.functional as F

from genlab.config import Config
from genlab.core.errors import ConfigError
from genlab.core.protocol import DataSpec, Encoder, Sampler, StepContext
from genlab.data import load_dataset, pixels_for
from genlab.eval.features import FeatureCNN
from genlab.eval.features.net import unit_images
from genlab.models import MODELS
from genlab.models.classifier import Classifier
from genlab.runs import standard_hooks
from genlab.train.trainer import Trainer


def digits_config(steps: int, **train) -> Config:
    return Config.from_dict({
        "model": {"name": "classifier"},
        "data": {"name": "digits", "batch_size": 32, "pixels": "scale", "range": "unit"},
        "optim": {"default": {"lr": 1e-3}},
        "train": {"steps": steps, "log_every": 2, "ckpt_every": 4, "progress": False, "device": "cpu",
                  **train},
    })


def test_contract_and_step_match_direct_cross_entropy():
    model = MODELS.get("classifier")(Classifier.Config(), DataSpec((1, 8, 8), 17, 10))
    assert isinstance(model.net, FeatureCNN) and isinstance(model, Encoder) and not isinstance(model, Sampler)
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(16, 1, 8, 8, generator=g), torch.randint(0, 10, (16,), generator=g)
    (update,) = list(model.train_step({"x": x, "y": y}, StepContext(0)))
    logits = model.net(x)
    assert torch.allclose(update.loss, F.cross_entropy(logits, y))
    assert update.logs["accuracy"].item() == pytest.approx((logits.argmax(1) == y).float().mean().item())
    assert torch.equal(model.encode(x), model.net.features(x)) and model.encode(x).shape == (16, 128)
    with pytest.raises(ValueError, match="'y'"):
        next(model.train_step({"x": x}, StepContext(0)))
    with pytest.raises(ConfigError, match="image data"):
        Classifier(Classifier.Config(), DataSpec((2,)))


def test_trainer_feeds_feature_net_inputs():
    """data.pixels=scale, range=unit gives x / (levels - 1): what FeatureCNN and extract_features expect."""
    cfg = digits_config(1)
    ds = load_dataset(cfg.data)
    assert torch.equal(pixels_for(ds, cfg.data)(ds.train[:5]), unit_images(ds.train[:5], ds.levels))


def test_resume_is_exact_and_standard_hooks_skip_sampling(tmp_path):
    full = Trainer(digits_config(8), tmp_path / "full")
    full.fit()
    Trainer(digits_config(4), tmp_path / "split").fit()
    cfg = digits_config(8, eval_every=4)
    resumed = Trainer(cfg, tmp_path / "split", resume=True, hooks=standard_hooks(cfg))
    assert resumed.step == 4
    resumed.fit()
    for (k, a), b in zip(full.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), k
    run = tmp_path / "split"
    assert (run / "loss.png").is_file() and not (run / "samples").exists()
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert any("accuracy" in r for r in records) and all(torch.isfinite(torch.tensor(r["loss"]))
                                                         for r in records if "loss" in r)
