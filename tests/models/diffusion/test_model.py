"""The diffusion model: exact conversions, the continuous-time schedule, config checks, and a short
Trainer run that resumes bit-exactly."""

import pytest
import torch

from genlab.config import Config, load_config
from genlab.core.checkpoint import latest_checkpoint, load_checkpoint
from genlab.core.errors import ConfigError
from genlab.models.diffusion import NoiseSchedule
from genlab.models.diffusion import prediction as pred
from genlab.train import Trainer
from genlab.train.runlog import read_metrics


def test_conversions_between_eps_x0_and_v_are_exact():
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(100, 3, generator=g, dtype=torch.float64), torch.randn(100, 3, generator=g,
                                                                               dtype=torch.float64)
    ab = torch.rand(100, 1, generator=g, dtype=torch.float64) * 0.998 + 0.001
    x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
    v = pred.v_from_eps_x0(eps, x0, ab)
    for kind, out in (("eps", eps), ("x0", x0), ("v", v)):
        torch.testing.assert_close(pred.to_eps(kind, out, x_t, ab), eps, atol=1e-12, rtol=0)
        torch.testing.assert_close(pred.to_x0(kind, out, x_t, ab), x0, atol=1e-9, rtol=0)
        torch.testing.assert_close(pred.target(kind, x0, eps, ab), out)
    torch.testing.assert_close(pred.x0_from_v(x_t, v, ab), x0, atol=1e-12, rtol=0)
    torch.testing.assert_close(pred.eps_from_v(x_t, v, ab), eps, atol=1e-12, rtol=0)
    # a wrong sign would not pass
    assert (pred.eps_from_v(x_t, -v, ab) - eps).abs().max() > 0.1


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_continuous_schedule_meets_the_discrete_one(kind):
    s = NoiseSchedule.build(kind, 1000)
    t = torch.arange(0, 1001, dtype=torch.float64) / 1000
    ab = s.alpha_bar_at(t)
    torch.testing.assert_close(ab[1:], s.alpha_bar, rtol=1e-12, atol=0)
    assert ab[0] == 1.0
    fine = torch.linspace(0, 1, 20001, dtype=torch.float64)
    beta = s.beta_at(fine)
    assert (beta >= 0).all() and (s.alpha_bar_at(fine).diff() <= 0).all()  # monotone
    # β is the derivative of -log ᾱ (central differences inside the intervals)
    mid = fine[1:-1][(fine[1:-1] * 1000 % 1 > 0.1) & (fine[1:-1] * 1000 % 1 < 0.9)]
    d = 1e-7
    num = -(s.alpha_bar_at(mid + d).log() - s.alpha_bar_at(mid - d).log()) / (2 * d)
    torch.testing.assert_close(num, s.beta_at(mid), rtol=1e-5, atol=1e-6)


def tiny(steps, **model):
    raw = {
        "model": {"name": "diffusion", "timesteps": 50, "net": "mlp", "hidden": 16, "depth": 2, "time_dim": 8,
                  **model},
        "data": {"name": "8gaussians", "batch_size": 32, "n_samples": 512},
        "optim": {"default": {"lr": 1e-3, "ema": 0.9}},
        "train": {"steps": steps, "log_every": 1, "ckpt_every": 5, "progress": False},
        "eval": {"n_test": 16},
    }
    return Config.from_dict(raw)


def test_trainer_resume_is_bit_exact(tmp_path):
    Trainer(tiny(12), tmp_path / "full").fit()
    Trainer(tiny(6), tmp_path / "split").fit()
    resumed = Trainer(tiny(12), tmp_path / "split", resume=True)
    assert resumed.step == 6
    resumed.fit()

    def losses(d):
        return {r["step"]: r["loss"] for r in read_metrics(d / "metrics.jsonl") if "loss" in r}

    full, split = losses(tmp_path / "full"), losses(tmp_path / "split")
    assert all(full[s] == split[s] for s in range(7, 13)), (full, split)
    wa, sa = load_checkpoint(latest_checkpoint(tmp_path / "full" / "checkpoints"))
    wb, sb = load_checkpoint(latest_checkpoint(tmp_path / "split" / "checkpoints"))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert all(torch.equal(x, y) for x, y in zip(sa["ema"]["model"]["shadow"], sb["ema"]["model"]["shadow"]))


@pytest.mark.parametrize("override, message", [
    ("model.schedule=quadratic", "choose one of: linear, cosine"),
    ("model.prediction=score", "choose one of: eps, x0, v"),
    ("model.sampler=euler", "choose one of: ddpm, ddim"),
    ("model.variance=learned", "choose one of: beta, posterior"),
    ("model.sample_steps=2000", "at most model.timesteps"),
    ("model.eta=-1", "model.eta"),
    ("model.timesteps=1000000000", "model.timesteps must be at most 100000"),
    ("model.eta=2", "model.eta must be a finite number in [0, 1]"),
    ("model.likelihoods=[elbo]", "choose one of: bound, ode"),
    ("model.net=unet", "needs image data"),
])
def test_bad_options_fail_with_one_line(override, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        cfg = load_config("diffusion-8gaussians", [override])
        from genlab.models import MODELS, DataSpec
        MODELS.get("diffusion")(cfg.model.params, DataSpec((2,)))


@pytest.mark.parametrize("preset", ["diffusion-8gaussians", "diffusion-moons", "diffusion-digits",
                                    "diffusion-fashion"])
def test_presets_load(preset):
    cfg = load_config(preset)
    assert cfg.model.name == "diffusion" and cfg.optim["default"].ema is not None


def test_sample_and_eval_take_runtime_options(tmp_path, capsys):
    from genlab.cli import main

    Trainer(tiny(3, likelihoods=["bound"], bound_terms=5), tmp_path / "run").fit()
    assert main(["sample", str(tmp_path / "run"), "-n", "4", "-o", str(tmp_path / "s.png"),
                 "model.sampler=ddim", "model.sample_steps=7"]) == 0
    assert main(["eval", str(tmp_path / "run"), "--n-test", "8", "--n-samples", "50", "model.sampler=ddim",
                 "model.sample_steps=5", "model.bound_terms=3"]) == 0
    out = json_load(tmp_path / "run" / "eval.json")
    assert out["runtime_overrides"] == ["model.sampler=ddim", "model.sample_steps=5", "model.bound_terms=3"]
    assert "elbo_3_of_49_terms_nats" in out["likelihood"]
    assert main(["sample", str(tmp_path / "run"), "-o", str(tmp_path / "t.png"), "model.hidden=4"]) == 2
    assert "cannot be changed for a trained run" in capsys.readouterr().err


def json_load(path):
    import json

    return json.loads(path.read_text())
