"""Registered optimizers, wrappers and schedules built from typed configs; parameter sets."""

import math

import pytest
import torch
from torch import nn

from genlab.config import Config, load_config
from genlab.core.checkpoint import load_checkpoint, save_checkpoint
from genlab.core.errors import ConfigError
from genlab.models import MODELS
from genlab.optim import (
    OPTIMIZERS,
    SCHEDULES,
    WRAPPERS,
    build_optimizer,
    build_scheduler,
    flat_params,
    no_decay_sets,
    optim_from_dict,
)
from genlab.optim.config import COMMON
from genlab.presets import preset_names
from genlab.train import Trainer
from tests.conftest import tiny_vae
from tests.toy_models import MeanModel

# One config per registered optimizer, with non-default options where it has any. The keys must
# cover the registry, so a new optimizer cannot be registered without being checkpoint-tested.
OPTIMIZER_CASES = {
    "adam": {"betas": [0.5, 0.9], "weight_decay": 0.01, "amsgrad": True},
    "adamw": {"weight_decay": 0.1, "fused": True},
    "sgd": {"momentum": 0.9, "nesterov": True, "weight_decay": 1e-3},
    "rmsprop": {"alpha": 0.9, "momentum": 0.5},
    "heun": {},
    "damped": {"momentum": 0.8, "nesterov": "half"},
}
WRAPPER_CASES = {
    "lookahead": {"k": 2, "alpha": 0.5},
    "decoupled_weight_decay": {"weight_decay": 0.1},
    "layerwise": {"max_weight_norm": 10.0},
    "lazy_rows": {"freeze_state": True},
}
COMPOSED = [{"name": "decoupled_weight_decay", "weight_decay": 0.1}, {"name": "layerwise"},
            {"name": "lazy_rows"}, {"name": "lookahead", "k": 2}]


def tiny_net(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Embedding(6, 4), nn.Flatten(), nn.Linear(8, 5), nn.LayerNorm(5),
                         nn.Tanh(), nn.Linear(5, 1)).double()


def closure_at(net: nn.Module, opt: torch.optim.Optimizer, step: int):
    gen = torch.Generator().manual_seed(step)
    tokens = torch.randint(0, 3, (16, 2), generator=gen)  # rows 3..5 of the embedding stay untouched
    target = torch.randn(16, 1, generator=gen, dtype=torch.float64)

    def closure():
        opt.zero_grad()
        loss = (net(tokens) - target).pow(2).mean()
        loss.backward()
        return loss

    return closure


def build(raw: dict, seed: int, steps: int):
    net = tiny_net(seed)
    cfg = optim_from_dict(raw)
    opt = build_optimizer(no_decay_sets(net), cfg)
    return net, opt, build_scheduler(opt, cfg, steps)


def run(net, opt, sched, start: int, stop: int) -> None:
    for step in range(start, stop):
        opt.step(closure_at(net, opt, step))  # a closure for all: heun needs one, the others accept it
        if sched is not None:
            sched.step()


def cases():
    base = {"lr": 0.05, "schedule": "cosine", "warmup_steps": 2, "min_lr_ratio": 0.1}
    for name, options in OPTIMIZER_CASES.items():
        yield pytest.param({**base, "name": name, **options}, id=name)
    for name, options in WRAPPER_CASES.items():
        yield pytest.param({**base, "name": "adam", "wrappers": [{"name": name, **options}]}, id=name)
    yield pytest.param({**base, "name": "adam", "wrappers": COMPOSED}, id="composed")


def test_cases_cover_every_registered_entry():
    assert set(OPTIMIZER_CASES) == set(OPTIMIZERS.names())
    assert set(WRAPPER_CASES) == set(WRAPPERS.names())


@pytest.mark.parametrize("raw", list(cases()))
def test_checkpoint_resume_is_bit_exact(raw, tmp_path):
    total, cut = 6, 3
    net, opt, sched = build(raw, seed=0, steps=total)
    start = [p.detach().clone() for p in net.parameters()]
    run(net, opt, sched, 0, total)
    assert any(not torch.equal(a, p) for a, p in zip(start, net.parameters()))  # it trained

    first, opt1, sched1 = build(raw, seed=0, steps=total)
    run(first, opt1, sched1, 0, cut)
    state = {"optimizer": opt1.state_dict(), "scheduler": sched1.state_dict()}
    path = save_checkpoint(tmp_path, cut, first.state_dict(), state)
    weights, loaded = load_checkpoint(path)  # state.pt is read with weights_only=True
    second, opt2, sched2 = build(raw, seed=1, steps=total)  # other init: the checkpoint must win
    second.load_state_dict(weights)
    opt2.load_state_dict(loaded["optimizer"])
    sched2.load_state_dict(loaded["scheduler"])
    run(second, opt2, sched2, cut, total)
    for a, b in zip(net.parameters(), second.parameters()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("raw, message", [
    ({"name": "adam", "momentum": 0.9}, r"optim.default.momentum is not an option .* amsgrad"),
    ({"name": "sgd", "betas": [0.5, 0.9]}, r"optim.default.betas is not an option .* nesterov"),
    ({"min_lr_ratio": 0.1}, r"optim.default.min_lr_ratio is not an option"),
    ({"name": "nope"}, r"optim.default.name: unknown optimizer 'nope'; choose one of: adam, adamw"),
    ({"schedule": "nope"}, r"optim.default.schedule: unknown schedule .*cosine"),
    ({"wrappers": [{"name": "nope"}]}, r"wrappers\[0\].name: unknown optimizer wrapper .*lookahead"),
    ({"wrappers": [{"name": "lookahead", "kk": 2}]}, r"wrappers\[0\].kk is not an option .* k, alpha"),
    ({"lr": 0}, r"optim.default.lr must be a finite number in \(0, inf\)"),
    ({"lr": "inf"}, r"optim.default.lr must be a finite"),
    ({"betas": [0.9, 1.0]}, r"optim.default.betas must be .* \[0, 1\)"),
    ({"eps": 0.0}, r"optim.default.eps must be"),
    ({"weight_decay": -1e-3}, r"optim.default.weight_decay must be"),
    ({"ema": 1.0}, r"optim.default.ema must be .* \(0, 1\)"),
    ({"grad_clip": 0.0}, r"optim.default.grad_clip must be"),
    ({"schedule": "cosine", "warmup_steps": -1}, r"optim.default.warmup_steps must be an integer >= 0"),
    ({"schedule": "piecewise"}, r"optim.default.knots must be a non-empty"),
    ({"wrappers": [{"name": "lookahead", "k": 0}]}, r"optim.default.wrappers\[0\].k must be an integer >= 1"),
    ({"wrappers": [{"name": "lookahead", "alpha": 1.5}]}, r"wrappers\[0\].alpha must be .* \[0, 1\]"),
    ({"betas": "abc"}, r"optim.default.betas"),
])
def test_config_errors_name_the_key(raw, message):
    with pytest.raises(ConfigError, match=message) as err:
        Config.from_dict({"model": {"name": "vae"}, "optim": {"default": raw}})
    assert "\n" not in str(err.value)


def test_cli_overrides_keep_the_flat_keys():
    cfg = load_config("vae-digits", [
        "optim.default.lr=2e-4", "optim.default.betas=[0.5, 0.9]", "optim.default.schedule=cosine",
        "optim.default.warmup_steps=10", "optim.default.ema=0.99", "optim.default.grad_clip=1.0",
        "optim.model.lr=1e-3", "optim.default.wrappers=[{name: lookahead, k: 3}]"])
    g = cfg.optim_for("model")
    assert (g.name, g.lr, g.betas, g.schedule, g.warmup_steps) == ("adam", 1e-3, (0.5, 0.9), "cosine", 10)
    assert (g.ema, g.grad_clip, g.wrappers[0].name, g.wrappers[0].options.k) == (0.99, 1.0, "lookahead", 3)
    # a warm-up is a schedule of its own: the constant schedule takes no warmup_steps
    assert load_config("vae-digits", ["optim.default.schedule=warmup", "optim.default.warmup_steps=7"]
                       ).optim_for("x").warmup_steps == 7
    with pytest.raises(ConfigError, match="warmup_steps is not an option of optimizer adam with schedule "
                                          "constant"):
        load_config("vae-digits", ["optim.default.warmup_steps=7"])


def test_group_with_another_optimizer_does_not_inherit_its_options():
    cfg = Config.from_dict({"model": {"name": "vae"}, "optim": {
        "default": {"name": "adam", "lr": 0.5, "betas": [0.5, 0.9], "ema": 0.9},
        "model": {"name": "sgd", "momentum": 0.9}}})
    g = cfg.optim_for("model")
    assert (g.name, g.lr, g.momentum, g.ema) == ("sgd", 0.5, 0.9, 0.9)


def test_roundtrip_with_wrappers_and_schedule(tmp_path):
    cfg = load_config("glow-digits", ["optim.default.wrappers=[{name: lookahead, k: 5, alpha: 0.5}]",
                                      "optim.default.name=adamw", "optim.default.schedule=piecewise",
                                      "optim.default.knots={100: 1.0, 200: 0.1}"])
    path = tmp_path / "config.yaml"
    path.write_text(cfg.to_yaml())
    again = load_config(str(path))
    assert again == cfg and again.to_dict() == cfg.to_dict()
    assert again.optim_for("model").knots == {100: 1.0, 200: 0.1}


def test_every_preset_loads_and_round_trips():
    for name in preset_names():
        cfg = load_config(name)
        assert Config.from_dict(cfg.to_dict()) == cfg, name


def test_option_names_do_not_collide():
    # optimizer and schedule options share one flat mapping per group
    opt_keys = {f for n in OPTIMIZERS for f in OPTIMIZERS.get(n).options.__dataclass_fields__}
    sched_keys = {f for n in SCHEDULES for f in SCHEDULES.get(n).options.__dataclass_fields__}
    assert not (opt_keys & sched_keys) and not ((opt_keys | sched_keys) & set(COMMON))


def test_no_decay_sets_and_flat_params():
    net = tiny_net(0)
    sets = no_decay_sets(net)
    names = {id(p): n for n, p in net.named_parameters()}
    assert sorted(names[id(p)] for p in sets[1]["params"]) == ["2.bias", "3.bias", "3.weight", "5.bias"]
    assert sets[1]["weight_decay"] == 0.0 and sets[0]["weight_decay"] is None
    assert {id(p) for p in flat_params(sets)} == set(names) and len(flat_params(sets)) == len(names)
    assert flat_params(list(net.parameters())) == list(net.parameters())


def test_param_sets_reach_torch_groups_and_survive_cosine():
    net = tiny_net(0)
    decay, keep = no_decay_sets(net)
    sets = [{**decay, "weight_decay": 0.1}, {**keep, "lr_scale": 0.5}]
    lr, total = 0.2, 8
    cfg = optim_from_dict({"name": "adamw", "lr": lr, "schedule": "cosine"})
    opt = build_optimizer(sets, cfg)
    sched = build_scheduler(opt, cfg, total)
    assert [g["weight_decay"] for g in opt.param_groups] == [0.1, 0.0]
    for t in range(total + 2):
        cos = 0.5 * (1 + math.cos(math.pi * min(t, total) / total))  # closed form, min_lr_ratio 0
        assert opt.param_groups[0]["lr"] == pytest.approx(lr * cos, abs=1e-12)
        assert opt.param_groups[1]["lr"] == pytest.approx(0.5 * lr * cos, abs=1e-12)
        opt.step(closure_at(net, opt, t))
        sched.step()


def test_decoupled_wrapper_skips_the_no_decay_set():
    net = tiny_net(0)
    cfg = optim_from_dict({"name": "adam", "lr": 0.1,
                           "wrappers": [{"name": "decoupled_weight_decay", "weight_decay": 0.5}]})
    sets = no_decay_sets(net)
    opt = build_optimizer(sets, cfg)
    before = [p.detach().clone() for p in flat_params(sets)]
    for p in net.parameters():
        p.grad = torch.zeros_like(p)  # Adam's own step is then exactly 0
    opt.step()
    n_decay = len(sets[0]["params"])
    for i, (b, p) in enumerate(zip(before, flat_params(sets))):
        expected = b * (1 - 0.1 * 0.5) if i < n_decay else b
        assert torch.equal(p.detach(), expected)


def test_bad_param_sets():
    p = nn.Parameter(torch.zeros(2))
    cfg = optim_from_dict({"name": "heun"})
    with pytest.raises(ValueError, match="weight_decay=0.1 but this optimizer has none"):
        build_optimizer([{"params": [p], "weight_decay": 0.1}], cfg)
    with pytest.raises(ValueError, match="lr_scale must be"):
        build_optimizer([{"params": [p], "lr_scale": 0.0}], optim_from_dict({}))
    with pytest.raises(TypeError, match="not a mix"):
        flat_params([p, {"params": [p]}])


class MeanWithSets(MeanModel):
    def param_groups(self):
        return {"model": [{"params": [self.mu], "lr_scale": 2.0}, *no_decay_sets(self.lin)]}


def test_trainer_accepts_param_sets(tmp_path):
    raw = tiny_vae(train__steps=4, train__ckpt_every=0, train__sample_every=0)
    raw["model"] = {"name": "test-mean-sets"}
    raw["optim"] = {"default": {"name": "adamw", "lr": 0.01, "weight_decay": 0.1, "schedule": "cosine",
                                "ema": 0.9, "grad_clip": 1.0, "wrappers": [{"name": "lookahead"}]}}
    with MODELS.temporary("test-mean-sets", MeanWithSets):
        t = Trainer(Config.from_dict(raw), tmp_path)
        t.fit()
    groups = t.optimizers["model"].param_groups
    assert [g["lr_scale"] for g in groups] == [2.0, 1.0, 1.0]
    assert groups[0]["lr"] == pytest.approx(2 * groups[1]["lr"]) and groups[2]["weight_decay"] == 0.0
    assert len(t.emas["model"].shadow) == 3


def test_overriding_the_schedule_drops_the_old_schedules_options():
    cfg = load_config("glow-digits", ["optim.default.schedule=constant"])  # preset: cosine, warm-up
    assert cfg.optim_for("model").schedule == "constant"
    cfg = load_config("glow-digits", ["optim.default.schedule=warmup"])
    assert cfg.optim_for("model").warmup_steps == 200  # shared options are kept
    cfg = load_config("gan-ns-digits", ["optim.default.name=sgd"])  # preset: adam with betas
    assert cfg.optim_for("critic").name == "sgd"


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_fused_adam_follows_the_foreach_trajectory(name):
    """`fused: true` picks torch's fused kernel: same update rule, equal up to rounding."""
    nets = [tiny_net(0), tiny_net(0)]
    cfgs = [optim_from_dict({"name": name, "lr": 0.05, "fused": fused}) for fused in (False, True)]
    opts = [build_optimizer(list(net.parameters()), cfg) for net, cfg in zip(nets, cfgs)]
    assert [o.defaults.get("fused") for o in opts] == [None, True]
    for t in range(5):
        for net, opt in zip(nets, opts):
            opt.step(closure_at(net, opt, t))
    for a, b in zip(*(net.parameters() for net in nets)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
