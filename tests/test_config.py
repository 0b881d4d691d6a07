import re

import pytest

from genlab.config import Config, OptimConfig, apply_override, load_config
from genlab.core.errors import ConfigError
from genlab.presets import preset_names


def test_every_preset_loads():
    names = preset_names()
    assert "vae-digits" in names
    for name in names:
        cfg = load_config(name)
        assert cfg.train.steps > 0


def test_overrides_are_typed_and_nested():
    cfg = load_config("vae-digits", ["train.steps=7", "optim.default.lr=1e-3", "model.latent_dim=3",
                                     "optim.model.betas=[0.5, 0.9]", "train.tensorboard=false"])
    assert cfg.train.steps == 7 and cfg.model.params.latent_dim == 3
    assert cfg.optim["default"].lr == pytest.approx(1e-3)  # YAML reads "1e-3" as a string
    assert cfg.optim_for("model").betas == (0.5, 0.9)
    assert cfg.optim_for("model").lr == pytest.approx(1e-3)  # group inherits the default


def test_group_section_inherits_default():
    cfg = Config.from_dict({"model": {"name": "vae"},
                            "optim": {"default": {"lr": 0.5, "ema": 0.99}, "model": {"lr": 0.1}}})
    assert cfg.optim["model"] == OptimConfig(lr=0.1, ema=0.99)


@pytest.mark.parametrize("override, message", [
    ("train.steps=abc", "train.steps: expected an integer"),
    ("train.stepz=3", "unknown config key train.stepz"),
    ("model.latent=3", "unknown config key model.latent"),
    ("model.name=nope", "unknown model 'nope'"),
    ("data.batch_size=[1]", "expected an integer"),
    ("noequals", "expected key=value"),
])
def test_bad_overrides_give_clear_errors(override, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load_config("vae-digits", [override])


def test_roundtrip_through_yaml(tmp_path):
    cfg = load_config("vae-digits", ["optim.model.lr=0.01"])
    path = tmp_path / "c.yaml"
    path.write_text(cfg.to_yaml())
    assert load_config(str(path)) == cfg


def test_unknown_preset_lists_choices():
    with pytest.raises(ConfigError, match="vae-digits"):
        load_config("no-such-preset")


def test_apply_override_creates_sections():
    raw = {}
    apply_override(raw, "optim.critic.lr=2e-4")
    assert raw == {"optim": {"critic": {"lr": "2e-4"}}}


@pytest.mark.parametrize("override, message", [
    ("train.precision=fp8", "unknown train.precision 'fp8'; choose one of: fp32, bf16, fp16"),
    ("data.pixels=round", "unknown data.pixels 'round'; choose one of: dequantize, binarize, scale"),
    ("data.range=wide", "unknown data.range 'wide'; choose one of: unit, symmetric"),
    ("train.device=gpu", "bad train.device 'gpu'; use auto, cpu, cuda or cuda:N"),
    ("train.device=cuda:x", "bad train.device 'cuda:x'"),
    ("train.seed=-1", "train.seed must be an integer >= 0, got -1"),
    ("train.seed=100000000000000000000000", "train.seed must be an integer in [0, 2**63)"),
    (f"train.seed={2**63}", "train.seed must be an integer in [0, 2**63)"),
    ("train.grad_accum=3", "train.grad_accum=3 must divide data.batch_size=64"),
])
def test_run_sections_are_checked_when_built(override, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config("vae-digits", [override])


def test_edge_values_are_accepted():
    cfg = load_config("vae-digits", [f"train.seed={2**63 - 1}", "train.device=cuda:1", "train.grad_accum=4",
                                     "train.precision=bf16", "data.range=symmetric"])
    assert (cfg.train.seed, cfg.train.device, cfg.train.grad_accum) == (2**63 - 1, "cuda:1", 4)


def test_largest_seed_trains(tmp_path):
    from genlab.train import Trainer
    from tests.conftest import tiny_vae

    for data in ("8gaussians", "moons"):  # numpy and scikit-learn generators, and the batch order
        raw = tiny_vae(train__steps=2, train__seed=2**63 - 1, train__ckpt_every=0, data__name=data)
        with Trainer(Config.from_dict(raw), tmp_path / data) as t:
            assert t.fit()["step"] == 2


@pytest.mark.parametrize("overrides, needle", [
    (["model=5"], "model must be a mapping"), (["optim.default=5"], "optim.default must be a mapping"),
    (["optim=[1]"], "optim must be a mapping"), (["optim.critic=3"], "optim.critic must be a mapping"),
    (["data=[1, 2]"], "data must be a mapping"),
    (["model.latent_dim=" + "[" * 3000 + "]" * 3000], "nested more than"),
])
def test_sections_of_the_wrong_type_are_one_line_errors(overrides, needle):
    with pytest.raises(ConfigError, match=re.escape(needle)):
        load_config("vae-digits", overrides)


@pytest.mark.parametrize("text, needle", [
    ("model: [vae, 16]\n", "model must be a mapping"),
    ("model: {name: vae}\noptim: [1, 2]\n", "optim must be a mapping"),
    ("model: " + "[" * 5000 + "]" * 5000 + "\n", "nested more than 64 levels"),
    ("- 1\n- 2\n", "must hold a mapping"),
])
def test_yaml_files_of_the_wrong_shape_are_one_line_errors(tmp_path, text, needle):
    path = tmp_path / "cfg.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(needle)):
        load_config(str(path))


def test_overrides_must_be_strings():
    with pytest.raises(ConfigError, match="overrides must be a list of 'key=value' strings"):
        load_config("vae-digits", [5])
    with pytest.raises(ConfigError, match="overrides must be a list"):
        load_config("vae-digits", "train.steps=5")
