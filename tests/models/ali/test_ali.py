"""ALI / BiGAN: update schedule, where gradients go, the generator-side losses in closed form,
encoders, penalties on joint pairs and the preset."""

import json
import math

import pytest
import torch
import torch.nn.functional as F

from genlab.adversarial import CriticConfig, build_objective
from genlab.cli import main
from genlab.core.errors import ConfigError
from genlab.core.typed import build_dataclass
from genlab.models import StepContext
from genlab.models.ali import ALI, GENERATOR_LOSSES
from genlab.nets import ConvDecoder, MLPGenerator


def tiny(shape=(2,), **options):
    critic = CriticConfig(hidden=16, depth=1, **options.pop("critic", {}))
    torch.manual_seed(0)
    return ALI(ALI.Config(latent_dim=2, hidden=16, depth=1, critic=critic, **options), shape)


def test_update_order_and_gradient_routing():
    model = tiny(critic={"n_critic": 3})
    groups = model.param_groups()
    assert set(groups) == {"encoder", "decoder", "critic"}
    everything = [p for ps in groups.values() for p in ps]
    owner = {id(p): g for g, ps in groups.items() for p in ps}
    opts = {g: torch.optim.SGD(ps, lr=0.1) for g, ps in groups.items()}
    order = []
    for u in model.train_step({"x": torch.randn(16, 2)}, StepContext(0)):
        grads = torch.autograd.grad(u.loss, everything, retain_graph=True, allow_unused=True)
        depends = {owner[id(p)] for p, g in zip(everything, grads) if g is not None and g.abs().sum() > 0}
        # critic step: both pairs detached; generator step: through encoder, decoder (and the critic,
        # which the trainer's backward(inputs=...) leaves out)
        assert depends == ({"critic"} if u.groups == ("critic",) else {"encoder", "decoder", "critic"})
        before = [p.detach().clone() for p in everything]
        for p in everything:
            p.grad = None
        u.loss.backward(inputs=[p for g in u.groups for p in groups[g]])
        for g in u.groups:
            opts[g].step()
        moved = {owner[id(p)] for p, old in zip(everything, before) if not torch.equal(p, old)}
        assert moved == set(u.groups)
        order.append(u.groups)
    assert order == [("critic",)] * 3 + [("encoder", "decoder")]


def test_generator_losses_in_closed_form():
    """Non-saturating objective: swapped labels = softplus(s_enc) + softplus(-s_dec) (ALI/BiGAN);
    the VI view = softplus(-s_enc) + softplus(-s_dec), i.e. -log D on both pairs."""
    objective = build_objective("nonsaturating")
    s_enc, s_dec = torch.randn(7), torch.randn(7)
    swap = GENERATOR_LOSSES["swap"](objective, s_enc, s_dec)
    vi = GENERATOR_LOSSES["vi"](objective, s_enc, s_dec)
    assert torch.allclose(swap, F.softplus(s_enc).mean() + F.softplus(-s_dec).mean())
    d_enc, d_dec = torch.sigmoid(s_enc), torch.sigmoid(s_dec)
    assert torch.allclose(vi, -(d_enc.log().mean() + d_dec.log().mean()), atol=1e-6)
    # Wasserstein with swapped sides: the critic's gap, reversed
    w = build_objective("wasserstein")
    assert torch.allclose(GENERATOR_LOSSES["swap"](w, s_enc, s_dec), s_enc.mean() - s_dec.mean())


def test_generator_loss_used_by_the_model():
    model = tiny(generator_loss="vi")
    x = torch.randn(6, 2)
    torch.manual_seed(1)
    *_, last = model.train_step({"x": x}, StepContext(0))
    torch.manual_seed(1)
    _ = model.pairs(x)  # the critic step's draws
    enc, dec = model.pairs(x)
    s_enc, s_dec = model.critic.score(enc), model.critic.score(dec)
    assert torch.allclose(last.loss, F.softplus(-s_enc).mean() + F.softplus(-s_dec).mean())


def test_encoders():
    x = torch.randn(5, 2)
    bigan = tiny(encoder="deterministic")
    assert torch.equal(bigan.infer(x), bigan.encode(x))
    ali = tiny(encoder="gaussian")
    assert ali.encoder(x).shape == (5, 4)  # mean and log-std
    assert torch.equal(ali.encode(x), ali.encode(x)) and not torch.equal(ali.infer(x), ali.infer(x))
    img = tiny(shape=(1, 8, 8), output="sigmoid", net="conv")
    s = img.sample(3)
    assert s.shape == (3, 1, 8, 8) and ((s >= 0) & (s <= 1)).all()
    assert img.encode(torch.rand(3, 1, 8, 8)).shape == (3, 2)
    with pytest.raises(ValueError, match="built for examples of shape"):
        img.encode(torch.rand(3, 1, 9, 9))


@pytest.mark.parametrize("critic", [{"objective": "wasserstein", "penalty": "gp"}, {"penalty": "fd"},
                                    {"r1_weight": 1.0}, {"spectral_norm": True}, {"grad_norm": "gran"},
                                    {"objective": "hinge", "clip": 0.05}])
def test_constraints_on_joint_pairs(critic):
    model = tiny(shape=(1, 8, 8), critic=critic)
    groups = model.param_groups()
    for u in model.train_step({"x": torch.rand(4, 1, 8, 8)}, StepContext(0)):
        params = [p for g in u.groups for p in groups[g]]
        u.loss.backward(inputs=params)
        assert all(torch.isfinite(p.grad).all() for p in params if p.grad is not None)


@pytest.mark.parametrize("net,shape", [("mlp", (2,)), ("conv", (1, 8, 8))])
def test_decoder_norm(net, shape):
    """Batch norm goes into the decoder only (the critic must not mix the examples it scores)."""
    model = tiny(shape=shape, net=net, decoder_norm="batch")
    assert any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.decoder.modules())
    for part in (model.encoder, model.critic):
        assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in part.modules())
    plain = tiny(shape=shape, net=net)
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in plain.modules())
    # "none" keeps the parameter names of decoders built before the option existed (old checkpoints)
    before = {"mlp": lambda: MLPGenerator(2, shape, 16, 1), "conv": lambda: ConvDecoder(2, shape, 16)}[net]()
    assert plain.decoder.state_dict().keys() == before.state_dict().keys()
    assert model.sample(4).shape == (4, *shape)


def test_bad_options():
    # choices are checked when the config is built from its mapping, before any data or model
    for key, value in (("decoder_norm", "group"), ("encoder", "flow"), ("generator_loss", "nope"),
                       ("net", "vit"), ("output", "relu"), ("prior", "laplace")):
        with pytest.raises(ConfigError, match=f"unknown model.{key} '{value}'; choose one of"):
            build_dataclass(ALI.Config, {key: value}, "model.")
    with pytest.raises(ConfigError, match="unknown model.critic.penalty 'lp'"):
        build_dataclass(ALI.Config, {"critic": {"penalty": "lp"}}, "model.")


def test_preset_smoke(tmp_path):
    run = tmp_path / "run"
    overrides = ["train.steps=3", "train.log_every=1", "train.ckpt_every=0", "train.sample_every=0",
                 "train.n_samples=8", "train.progress=false", "train.device=cpu", "model.hidden=8",
                 "model.critic.hidden=8", "data.batch_size=8"]
    assert main(["train", "ali-digits", "--out", str(run), *overrides]) == 0
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if "gen_loss" in r]
    assert len(steps) == 3 and all(math.isfinite(r["gen_loss"]) and math.isfinite(r["critic_loss"])
                                   for r in steps)
    assert list((run / "samples").glob("*.png"))
