"""Trainer(model=...): a built model, not looked up in MODELS; Model.default_ema for unset optim ema."""

from dataclasses import dataclass

import pytest
import torch
import yaml
from torch import nn

from genlab.config import Config
from genlab.core.checkpoint import latest_checkpoint, load_checkpoint
from genlab.core.protocol import DataSpec
from genlab.models import MODELS, Model, Update
from genlab.recipes.fit import recipe_config, trained
from genlab.train import Trainer
from tests.conftest import tiny_vae
from tests.toy_models import MeanModel


def mean_raw(name: str, **optim) -> dict:
    raw = tiny_vae(train__steps=4, train__ckpt_every=2)
    raw["model"] = {"name": name}
    raw["optim"] = {"default": {"name": "sgd", "lr": 0.05, **optim}}
    return raw


def test_built_model_trains_like_the_registry_path(tmp_path, toy_models):
    reg = Trainer(Config.from_dict(mean_raw("test-mean")), tmp_path / "registry")
    reg.fit()
    cfg = Config.from_dict(mean_raw("built-mean"), model_cls=MeanModel)
    assert "built-mean" not in MODELS  # nothing registered: the class is handed over
    torch.manual_seed(cfg.train.seed)
    model = MeanModel(cfg.model.params, DataSpec((2,)))
    built = Trainer(cfg, tmp_path / "built", model=model)
    assert built.model is model  # trained in place
    built.fit()
    for (k, a), b in zip(reg.model.state_dict().items(), model.state_dict().values()):
        assert torch.equal(a, b), k
    saved = yaml.safe_load((tmp_path / "built" / "config.yaml").read_text())
    assert saved["model"] == {"name": "built-mean", "nan_at_step": -1}
    # the run resumes with the model built again the same way
    built.close()
    again = Trainer(cfg, tmp_path / "built", resume=True, model=MeanModel(cfg.model.params, DataSpec((2,))))
    assert again.step == 4 and all(torch.equal(a, b) for a, b in zip(again.model.parameters(),
                                                                          model.parameters()))
    again.close()


def test_built_model_must_be_a_genlab_model(tmp_path):
    cfg = Config.from_dict(tiny_vae(train__steps=1))
    with pytest.raises(TypeError, match="genlab.core.protocol.Model"):
        Trainer(cfg, tmp_path, model=nn.Linear(2, 2))
    assert not tmp_path.joinpath("config.yaml").exists()


def test_recipe_path_refuses_a_library_name_for_another_class():
    from genlab.data import DATASETS

    data = DATASETS.get("8gaussians")(n_samples=64)
    with pytest.raises(ValueError, match="taken by a library model"):
        recipe_config("vae", MeanModel, {}, data, steps=1, batch_size=8, optim={"default": {"lr": 0.1}})
    cfg = recipe_config("recipe-mean", MeanModel, MeanModel.Config(), data, steps=2, batch_size=8,
                        optim={"default": {"name": "sgd", "lr": 0.1}})
    with trained(cfg, MeanModel, data) as trainer:
        assert trainer.step == 2 and type(trainer.model) is MeanModel


class Scalar(Model):
    """One parameter a, loss (a - 1)^2 whatever the batch: its EMA has a closed form."""

    default_ema = 0.5

    @dataclass
    class Config:
        pass

    def __init__(self, cfg, spec):
        super().__init__()
        self.a = nn.Parameter(torch.zeros(()))

    def train_step(self, batch, ctx):
        loss = (self.a - 1) ** 2
        yield Update(("model",), loss, {"loss": loss})


def scalar_trainer(tmp_path, **optim) -> Trainer:
    cfg = Config.from_dict(mean_raw("scalar", lr=0.25, **optim) | {"train": {"steps": 2, "progress": False}},
                           model_cls=Scalar)
    return Trainer(cfg, tmp_path, model=Scalar(cfg.model.params, DataSpec((2,))))


def test_default_ema_applies_when_optim_leaves_ema_unset(tmp_path):
    t = scalar_trainer(tmp_path / "default")
    assert t.emas["model"].decay == 0.5
    t.fit()
    # SGD on (a-1)^2 with lr 0.25 halves the distance to 1: a = 0.5, 0.75. EMA warm-up:
    # d_n = min(0.5, (1 + n) / (10 + n)) = 0.1, then 2/11.
    shadow = 0.1 * 0.0 + 0.9 * 0.5
    d = 2 / 11
    shadow = d * shadow + (1 - d) * 0.75
    assert t.emas["model"].shadow[0].item() == pytest.approx(shadow, rel=1e-6)
    _, state = load_checkpoint(latest_checkpoint(tmp_path / "default" / "checkpoints"))
    assert state["ema"]["model"]["updates"] == 2  # saved like any configured EMA


def test_optim_ema_overrides_or_turns_off_the_default(tmp_path):
    assert scalar_trainer(tmp_path / "set", ema=0.9).emas["model"].decay == 0.9
    assert scalar_trainer(tmp_path / "off", ema=0).emas == {}


def test_base_model_default_is_no_ema(tmp_path):
    assert Model.default_ema is None
    t = Trainer(Config.from_dict(tiny_vae(train__steps=1)), tmp_path)
    assert t.emas == {}  # presets without optim ema keep training without one
    t.close()
