"""The adversarial autoencoder: update schedule, where gradients go, the critic's optimum on a
discrete case, prior matching on a toy, constraint reuse and the presets."""

import json
import math

import pytest
import torch
from scipy.spatial.distance import jensenshannon
from torch import nn

from genlab.adversarial import Critic, CriticConfig
from genlab.adversarial.spectral import spectral_normalized_layers
from genlab.cli import main
from genlab.config import load_config
from genlab.core.errors import ConfigError
from genlab.models import StepContext
from genlab.models.aae import AAE
from genlab.nets import Scores


def tiny(schedule="phased", shape=(2,), **critic):
    torch.manual_seed(0)
    cfg = AAE.Config(latent_dim=2, hidden=16, depth=1, schedule=schedule,
                     critic=CriticConfig(hidden=16, depth=1, **critic))
    return AAE(cfg, shape)


def apply_updates(model, batch, opts=None, on_update=None):
    """What the trainer does: backward into each Update's groups only, step their optimizers, resume."""
    groups = model.param_groups()
    opts = opts or {g: torch.optim.SGD(ps, lr=0.1) for g, ps in groups.items()}
    seen = []
    for u in model.train_step(batch, StepContext(0)):
        params = [p for g in u.groups for p in groups[g]]
        for p in model.parameters():
            p.grad = None
        u.loss.backward(inputs=params)
        if on_update is not None:
            on_update(u)
        for g in u.groups:
            opts[g].step()
        seen.append(u.groups)
    return seen


@pytest.mark.parametrize("schedule, n_critic, expected", [
    ("phased", 2, [("encoder", "decoder"), ("critic",), ("critic",), ("encoder",)]),
    ("joint", 1, [("critic",), ("encoder", "decoder")]),
])
def test_update_order(schedule, n_critic, expected):
    model = tiny(schedule, n_critic=n_critic)
    assert set(model.param_groups()) == {"encoder", "decoder", "critic"}
    assert apply_updates(model, {"x": torch.randn(16, 2)}) == expected


def test_each_update_moves_only_its_groups_and_detaches_the_rest():
    model = tiny()
    groups = model.param_groups()
    everything = [p for ps in groups.values() for p in ps]
    owner = {id(p): g for g, ps in groups.items() for p in ps}
    # which groups each loss depends on at all (the trainer then restricts backward to u.groups)
    expected = {("encoder", "decoder"): {"encoder", "decoder"},  # no critic in the reconstruction
                ("critic",): {"critic"},  # codes detached: the encoder is a constant here
                ("encoder",): {"encoder", "critic"}}  # the trainer keeps the critic out
    opts = {g: torch.optim.SGD(ps, lr=0.1) for g, ps in groups.items()}
    for u in model.train_step({"x": torch.randn(16, 2)}, StepContext(0)):
        grads = torch.autograd.grad(u.loss, everything, retain_graph=True, allow_unused=True)
        depends = {owner[id(p)] for p, g in zip(everything, grads) if g is not None and g.abs().sum() > 0}
        assert depends == expected[u.groups], u.groups
        before = [p.detach().clone() for p in everything]
        params = [p for g in u.groups for p in groups[g]]
        for p in everything:
            p.grad = None
        u.loss.backward(inputs=params)
        for g in u.groups:
            opts[g].step()
        moved = {g: False for g in groups}
        for p, old in zip(everything, before):
            moved[owner[id(p)]] |= not torch.equal(p, old)
        # the update's groups moved; parameters outside them are untouched
        assert {g for g, m in moved.items() if m} == set(u.groups), u.groups


def test_critic_sees_codes_of_the_updated_encoder(monkeypatch):
    model = tiny()
    x = torch.randn(16, 2)
    seen = {}
    original = model.critic.critic_loss

    def spy(real, fake):
        seen["fake"] = fake.clone()
        return original(real, fake)

    monkeypatch.setattr(model.critic, "critic_loss", spy)

    def after_recon(u):
        if u.groups == ("encoder", "decoder"):
            seen["old"] = model.encoder(x).detach()

    apply_updates(model, {"x": x}, on_update=after_recon)
    with torch.no_grad():
        # `old`: codes before the reconstruction step; the critic saw different (newer) ones
        assert not torch.allclose(seen["fake"], seen["old"])
    # replay: reconstruction step only, then the encoder's codes are what the critic saw
    model2 = tiny()
    groups = model2.param_groups()
    step = model2.train_step({"x": x}, StepContext(0))
    u = next(step)
    u.loss.backward(inputs=[p for g in u.groups for p in groups[g]])
    for g in u.groups:
        torch.optim.SGD(groups[g], lr=0.1).step()
    with torch.no_grad():
        assert torch.allclose(model2.encoder(x), seen["fake"], atol=1e-6)


@pytest.mark.parametrize("objective", ["nonsaturating", "least_squares"])
def test_optimal_critic_on_a_discrete_code_distribution(objective):
    """Codes on 3 points: prior p, aggregate posterior q. A free score per point (a table) at the
    critic's optimum gives s = log p/q (BCE; loss 2 log 2 - 2 JS(p, q)) or D = p/(p + q) (LSGAN)."""
    p, q = torch.tensor([0.5, 0.25, 0.25]), torch.tensor([0.125, 0.375, 0.5])
    eye = torch.eye(3, dtype=torch.float64)
    # batches holding the points in exact proportion, so batch means are expectations
    real = eye.repeat_interleave((p * 8).long(), dim=0)
    fake = eye.repeat_interleave((q * 8).long(), dim=0)
    table = nn.Linear(3, 1, bias=False).double()
    critic = Critic(CriticConfig(objective=objective), Scores(table))
    opt = torch.optim.LBFGS(table.parameters(), lr=1, max_iter=200, tolerance_grad=1e-12,
                            tolerance_change=1e-14, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = critic.critic_loss(real, fake)[0]
        loss.backward()
        return loss

    opt.step(closure)
    s = table.weight.detach().flatten()
    loss = critic.critic_loss(real, fake)[0].item()
    if objective == "nonsaturating":
        assert torch.allclose(s, (p / q).log().double(), atol=1e-5)
        js = jensenshannon(p.numpy(), q.numpy()) ** 2  # natural log
        assert loss == pytest.approx(2 * math.log(2) - 2 * js, abs=1e-8)
    else:
        assert torch.allclose(s, (p / (p + q)).double(), atol=1e-6)


def test_prior_matching_pulls_the_aggregate_posterior_to_the_prior():
    """Data far from the prior: after training, the codes' mean and covariance are near N(0, I)."""
    torch.manual_seed(0)
    model = AAE(AAE.Config(latent_dim=2, hidden=32, depth=1,
                           critic=CriticConfig(hidden=32, depth=1)), (2,))
    data = torch.randn(4096, 2) * torch.tensor([3.0, 0.5]) + torch.tensor([4.0, -4.0])
    groups = model.param_groups()
    opts = {g: torch.optim.Adam(ps, lr=3e-3, betas=(0.5, 0.9)) for g, ps in groups.items()}

    def distance():
        with torch.no_grad():
            z = model.encode(data)
        return (z.mean(0).norm() + (torch.cov(z.T) - torch.eye(2)).norm()).item()

    start = distance()
    for _ in range(400):
        apply_updates(model, {"x": data[torch.randint(0, len(data), (128,))]}, opts)
    end = distance()
    assert end < 0.6 < start, (start, end)  # without the critic (adversarial_weight 0) end is ~17


@pytest.mark.parametrize("critic, check", [
    ({"penalty": "gp", "objective": "wasserstein"}, lambda m, logs: "penalty" in logs),
    ({"penalty": "fd", "penalty_mode": "one_sided"}, lambda m, logs: "penalty" in logs),
    ({"r1_weight": 1.0}, lambda m, logs: "r1" in logs),
    ({"spectral_norm": True}, lambda m, logs: len(spectral_normalized_layers(m.critic)) == 2),
    ({"clip": 0.01}, lambda m, logs: all(p.abs().max() <= 0.01 for p in m.critic.parameters())),
    ({"grad_norm": "gn"}, lambda m, logs: abs(logs["d_real"]) <= 1),
    ({"objective": "fgan", "divergence": "squared_hellinger"}, lambda m, logs: True),
])
def test_constraints_and_objectives_by_name(critic, check):
    model = tiny(**critic)
    updates = list(model.train_step({"x": torch.randn(8, 2)}, StepContext(0)))
    logs = updates[1].logs
    assert updates[1].groups == ("critic",) and torch.isfinite(updates[1].loss)
    assert check(model, logs)


def test_bad_names_fail_early():
    with pytest.raises(ConfigError, match="unknown model.critic.objective 'nope'"):
        load_config("aae-digits", ["model.critic.objective=nope"])
    with pytest.raises(ConfigError, match="unknown model.critic.penalty .lp.; choose one of: none, gp, fd"):
        load_config("aae-digits", ["model.critic.penalty=lp"])
    with pytest.raises(ConfigError, match="model.schedule"):
        load_config("aae-digits", ["model.schedule=later"])
    with pytest.raises(ConfigError, match="model.critic.norm=batch"):
        CriticConfig(norm="batch", penalty="gp")  # batch norm breaks per-example input gradients
    with pytest.raises(ConfigError, match="needs square images"):
        AAE(AAE.Config(net="conv"), (2,))


def test_sampler_and_encoder():
    model = tiny(shape=(1, 8, 8))
    x = torch.rand(5, 1, 8, 8)
    assert model.encode(x).shape == (5, 2)
    assert model.sample(4).shape == (4, 1, 8, 8)
    bern = AAE(AAE.Config(latent_dim=2, hidden=8, depth=1, reconstruction="bernoulli"), (4,))
    s = bern.sample(100)
    assert ((s > 0) & (s < 1)).all()  # probabilities: the decoder's logits through a sigmoid


@pytest.mark.parametrize("name", ["aae-digits", "aae-8gaussians"])
def test_preset_smoke(name, tmp_path):
    run = tmp_path / "run"
    overrides = ["train.steps=3", "train.log_every=1", "train.ckpt_every=0", "train.sample_every=0",
                 "train.n_samples=8", "train.progress=false", "train.device=cpu", "model.hidden=8",
                 "model.critic.hidden=8", "data.batch_size=8"]
    if "8gaussians" in name:
        overrides.append("data.n_samples=256")
    assert main(["train", name, "--out", str(run), *overrides]) == 0
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if "gen_loss" in r]
    assert len(steps) == 3 and all(math.isfinite(r["gen_loss"]) and math.isfinite(r["critic_loss"])
                                   and math.isfinite(r["recon"]) for r in steps)
    assert list((run / "samples").glob("*.png"))
