"""The linear probe of `Encoder` models (`genlab.eval.probe`), its place in `evaluate`, and a
`genlab train infomax-digits` + `genlab eval` smoke run."""

import json
from dataclasses import dataclass

import pytest
import torch
from torch import nn

from genlab.cli import main
from genlab.config import DataConfig, EvalConfig
from genlab.core.errors import ConfigError, DataError
from genlab.data import Dataset, load_dataset, pixels_for
from genlab.eval.evaluate import evaluate
from genlab.eval.probe import linear_probe, probe_metrics, representation
from genlab.models import MODELS, Model


@pytest.fixture(scope="module")
def digits():
    cfg = DataConfig(name="digits", pixels="scale")
    ds = load_dataset(cfg)
    return ds, pixels_for(ds, cfg)


class RawPixels(Model):
    """An Encoder whose code is its input: its probe must score exactly as the raw-pixel baseline."""

    @dataclass
    class Config:
        pass

    def __init__(self, cfg, spec):
        super().__init__()
        self.cfg = cfg
        self.unused = nn.Parameter(torch.zeros(()))

    def encode(self, x):
        return x.flatten(1)


def test_probe_of_identity_encoder_equals_raw_pixels_and_is_accurate(digits):
    ds, pixels = digits
    out = linear_probe(RawPixels(RawPixels.Config(), ds.spec), ds, pixels, EvalConfig(), "cpu")
    # sanity: logistic regression on 8x8 digit pixels is a strong classifier (well above 90%)
    assert out["probe_raw_pixels_accuracy"] > 0.9
    assert out["probe_accuracy"] == out["probe_raw_pixels_accuracy"] == out["probe_random_init_accuracy"]
    assert out["probe_n_train"] == len(ds.train) and out["probe_n_test"] == len(ds.test)


def test_probe_train_subset_is_capped_and_fixed(digits):
    ds, pixels = digits
    cfg = EvalConfig(probe_n_train=300)
    a = linear_probe(RawPixels(RawPixels.Config(), ds.spec), ds, pixels, cfg, "cpu", baselines=False)
    b = linear_probe(RawPixels(RawPixels.Config(), ds.spec), ds, pixels, cfg, "cpu", baselines=False)
    assert a["probe_n_train"] == 300 and a == b and "probe_raw_pixels_accuracy" not in a


def test_probe_rejects_a_model_without_encode(digits, toy_models):
    ds, pixels = digits
    model = toy_models["test-mean"](toy_models["test-mean"].Config(), ds.spec)
    with pytest.raises(ConfigError, match="needs an Encoder.*MeanModel has no encode"):
        linear_probe(model, ds, pixels, EvalConfig(), "cpu")
    assert probe_metrics(model, ds, pixels, EvalConfig(), torch.device("cpu")) == {}


def test_probe_needs_labels(digits):
    ds, pixels = digits
    unlabelled = Dataset("nolabels", ds.train, ds.test, ds.levels)
    model = RawPixels(RawPixels.Config(), ds.spec)
    with pytest.raises(DataError, match="labels"):
        linear_probe(model, unlabelled, pixels, EvalConfig(), "cpu")
    assert "skipped" in probe_metrics(model, unlabelled, pixels, EvalConfig(), torch.device("cpu"))


class PairEncoder(RawPixels):
    """An encode() outside the protocol (a pair, and no `representation`)."""

    def encode(self, x):
        return x.flatten(1), x.flatten(1)


def test_evaluate_skips_the_probe_of_features_outside_the_protocol(digits):
    ds, pixels = digits
    model = PairEncoder(PairEncoder.Config(), ds.spec)
    out = probe_metrics(model, ds, pixels, EvalConfig(), torch.device("cpu"))
    assert "(B, D) tensor" in out["skipped"] and "tuple" in out["skipped"]


def test_vae_probe_reads_the_posterior_mean(digits):
    """The VAE's encode is (mean, log-std); its representation, what the probe reads, is the mean."""
    ds, pixels = digits
    vae = MODELS.get("vae")(MODELS.get("vae").Config(latent_dim=3, hidden=8, depth=1), ds.spec).eval()
    x = pixels(ds.test[:7])
    assert torch.equal(representation(vae, x), vae.encode(x)[0]) and representation(vae, x).shape == (7, 3)
    out = evaluate(vae, ds, pixels, EvalConfig(n_test=20, importance_samples=2, probe_n_train=300), "cpu",
                   samples=False)
    assert 0.1 < out["probe"]["probe_accuracy"] <= 1.0 and "elbo_nats" in out["likelihood"]
    # categorical latents: each group's probabilities (the mean of its one-hot code), summing to one
    cat = MODELS.get("vae")(MODELS.get("vae").Config(latent_type="categorical", latent_dim=2, categories=5,
                                                     hidden=8, depth=1), ds.spec).eval()
    probs = representation(cat, x)
    assert probs.shape == (7, 10) and torch.allclose(probs.view(7, 2, 5).sum(-1), torch.ones(7, 2))
    assert torch.allclose(probs.view(7, 2, 5), torch.softmax(cat.encode(x), -1))


def test_flow_representation_is_every_latent_flattened(digits):
    ds, pixels = digits
    flow = MODELS.get("realnvp")(MODELS.get("realnvp").Config(hidden=8), ds.spec).eval()
    x = pixels(ds.test[:3])
    feats = representation(flow, x)
    assert feats.shape == (3, 64)  # a bijection: as many numbers as pixels
    assert torch.equal(feats, torch.cat([z.flatten(1) for z in flow.encode(x)], 1))


def test_train_and_eval_infomax_digits(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "run"
    assert main(["train", "infomax-digits", "--out", str(run), "train.steps=6", "train.progress=false",
                 "train.ckpt_every=6", "train.eval_every=6", "eval.probe_n_train=400",
                 "model.global_channels=16", "model.critic_hidden=16", "model.channels=[16]"]) == 0
    assert not (run / "samples").exists()  # nothing to draw: no sample grids
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert any("eval/probe_accuracy" in r for r in records)
    capsys.readouterr()
    assert main(["eval", str(run)]) == 0
    res = json.loads(capsys.readouterr().out)
    assert "samples" not in res and res["likelihood"] == {}
    probe = res["probe"]
    for key in ("probe_accuracy", "probe_raw_pixels_accuracy", "probe_random_init_accuracy"):
        assert 0.1 < probe[key] <= 1.0, key  # ten classes: chance is 0.1
    assert probe["probe_n_train"] == 400
    assert json.loads((run / "eval.json").read_text())["probe"] == probe
