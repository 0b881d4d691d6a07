"""GAN training modes: single-loss == alternating gradients, update schedule, VI anchor, clipping."""

import dataclasses

import pytest
import torch

from genlab.adversarial import CriticConfig
from genlab.core.errors import ConfigError
from genlab.core.typed import build_dataclass
from genlab.models import StepContext
from genlab.models.gan.model import GAN
from genlab.models.gan.nets import build_nets
from genlab.models.gan.single_loss import formulation, stop_gradient_loss

CONFIGS = {
    "hinge": {"objective": "hinge"},
    "wgan-gp": {"objective": "wasserstein", "penalty": "gp"},
    "ns-gn": {"objective": "nonsaturating", "grad_norm": "gn"},
    "fgan-js-fd-r1": {"objective": "fgan", "divergence": "jensen_shannon", "penalty": "fd",
                      "r1_weight": 0.5},
    "ls-bn-generator": {"objective": "least_squares", "generator_norm": "batch"},
}
OBJECTIVES = {
    "minimax": {"objective": "minimax"},
    "nonsaturating": {"objective": "nonsaturating"},
    "hinge": {"objective": "hinge"},
    "least_squares": {"objective": "least_squares"},
    "wasserstein": {"objective": "wasserstein"},
    "fgan-kl-alt": {"objective": "fgan", "divergence": "kl"},
    "fgan-pearson-minimax": {"objective": "fgan", "divergence": "pearson_chi2", "fgan_generator": "minimax"},
}
CONSTRAINTS = {
    "none": {},
    "gp": {"penalty": "gp"},
    "gp-one-sided": {"penalty": "gp", "penalty_mode": "one_sided", "penalty_power": 1.0},
    "fd": {"penalty": "fd"},
    "r1": {"r1_weight": 0.5},
    "clip": {"clip": 0.05},
    "spectral": {"spectral_norm": True},
    "gn": {"grad_norm": "gn"},
    "gran": {"grad_norm": "gran"},
    "critic-batch-norm": {"norm": "batch"},
    "critic-layer-norm-gp": {"norm": "layer", "penalty": "gp"},
}
EXPECTED_FORMULATION = {"minimax": "reversal", "wasserstein": "reversal",
                        "fgan-pearson-minimax": "reversal", "nonsaturating": "row_reversal",
                        "hinge": "split", "least_squares": "split", "fgan-kl-alt": "split"}


CRITIC_KEYS = {f.name for f in dataclasses.fields(CriticConfig)}


def gan_config(**kw) -> GAN.Config:
    """GAN.Config with the critic's keys (objective, penalty, n_critic, norm, ...) under `critic`."""
    critic = CriticConfig(**{k: v for k, v in kw.items() if k in CRITIC_KEYS})
    return GAN.Config(critic=critic, **{k: v for k, v in kw.items() if k not in CRITIC_KEYS})


def tiny_gan(**kw) -> GAN:
    torch.manual_seed(0)
    cfg = gan_config(**{"latent_dim": 3, "hidden": 16, "depth": 2, **kw})
    return GAN(cfg, (2,)).double()


def grads(loss, params):
    return torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)


def assert_single_equals_alternating(model, weight, x, z):
    g_params, d_params = model.param_groups()["generator"], model.param_groups()["critic"]
    model._clip()  # what train_step does first
    torch.manual_seed(1)  # same penalty noise in both formulations
    single, _ = model.single_loss_objective(x, z)
    s_d, s_g = grads(single, d_params), grads(single, g_params)

    torch.manual_seed(1)
    critic_loss, _ = model.critic_objective(x, model.generator(z).detach())
    a_d = grads(critic_loss, d_params)
    gen_loss, _ = model.generator_objective(model.generator(z))
    a_g = grads(gen_loss, g_params)

    for s, a in zip(s_d, a_d):
        assert torch.allclose(s, a, rtol=1e-9, atol=1e-12)
    for s, a in zip(s_g, a_g):
        assert torch.allclose(s, weight * a, rtol=1e-9, atol=1e-12)
    # one backward of the single loss must not leave a difference: the naive sum gives other D grads
    naive = critic_loss + gen_loss
    assert any(not torch.allclose(s, n) for s, n in zip(s_d, grads(naive, d_params)))


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("weight", [1.0, 0.3])
def test_single_loss_gradients_equal_alternating(name, weight):
    model = tiny_gan(mode="single_loss", single_loss_weight=weight, **CONFIGS[name])
    x = torch.randn(16, 2, dtype=torch.float64)
    z = torch.randn(16, 3, dtype=torch.float64)
    assert_single_equals_alternating(model, weight, x, z)


@pytest.mark.parametrize("constraint", CONSTRAINTS)
@pytest.mark.parametrize("objective", OBJECTIVES)
def test_single_loss_every_objective_and_constraint(objective, constraint):
    cfg = {**OBJECTIVES[objective], **CONSTRAINTS[constraint]}
    model = tiny_gan(mode="single_loss", single_loss_weight=0.7, **cfg)
    expected = EXPECTED_FORMULATION[objective]
    if expected == "row_reversal" and constraint == "critic-batch-norm":
        expected = "split"  # a per-row factor is wrong once the critic mixes rows
    assert formulation(model.objective, model.cfg.critic.norm == "batch") == expected
    if constraint == "spectral":
        model.eval()  # no power iteration per call: every critic call sees the same sigma
    x = torch.randn(12, 2, dtype=torch.float64)
    z = torch.randn(12, 3, dtype=torch.float64)
    assert_single_equals_alternating(model, 0.7, x, z)


def test_row_reversal_falls_back_where_the_critic_gradient_underflows():
    model = tiny_gan(mode="single_loss", objective="nonsaturating", single_loss_weight=0.5)
    last = [m for m in model.critic.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.bias.fill_(-800.0)  # sigmoid(-800) = 0 in float64: exp(800) could not restore G's grad
    x, z = torch.randn(8, 2, dtype=torch.float64), torch.randn(8, 3, dtype=torch.float64)
    assert model.score(model.generator(z)).max() < -700
    g_params = model.param_groups()["generator"]
    single, _ = model.single_loss_objective(x, z)
    gen_loss, _ = model.generator_objective(model.generator(z))
    for s, a in zip(grads(single, g_params), grads(gen_loss, g_params)):
        assert torch.isfinite(s).all() and torch.allclose(s, 0.5 * a, rtol=1e-9, atol=1e-12)
    assert any(a.abs().max() > 0 for a in grads(gen_loss, g_params))


def test_stop_gradient_reference_matches_the_fast_formulations():
    model = tiny_gan(mode="single_loss", objective="wasserstein", single_loss_weight=0.4)
    x, z = torch.randn(8, 2, dtype=torch.float64), torch.randn(8, 3, dtype=torch.float64)
    params = list(model.parameters())
    fake = model.generator(z)
    ref = stop_gradient_loss(model.objective, model.score(x), model.score(fake.detach()),
                             model.score(fake), 0.4)
    fast, _ = model.single_loss_objective(x, z)
    for a, b in zip(grads(ref, params), grads(fast, params)):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-12)


def test_update_schedule_and_batch_split():
    model = tiny_gan(objective="wasserstein", penalty="gp", n_critic=3, g_steps=2)
    seen = []
    steps = model.train_step({"x": torch.randn(12, 2, dtype=torch.float64)}, StepContext(0))
    for u in steps:
        seen.append(u.groups)
        assert u.loss.ndim == 0 and torch.isfinite(u.loss)
        if u.groups == ("generator",):
            # the trainer backpropagates into the update's groups only: no critic weight gradients
            u.loss.backward(inputs=model.param_groups()["generator"])
            assert all(p.grad is None for p in model.critic.parameters())
            assert all(p.grad is not None for p in model.generator.parameters())
    assert seen == [("critic",)] * 3 + [("generator",)] * 2
    single = tiny_gan(mode="single_loss")
    (u,) = list(single.train_step({"x": torch.randn(8, 2, dtype=torch.float64)}, StepContext(0)))
    assert u.groups == ("critic", "generator")
    with pytest.raises(ConfigError, match="n_critic"):
        list(tiny_gan(n_critic=5).train_step({"x": torch.randn(4, 2, dtype=torch.float64)}, StepContext(0)))


def test_vi_anchor_is_pre_update_output_and_fixed():
    model = tiny_gan(objective="nonsaturating", vi_weight=2.0, g_steps=3)
    z = torch.randn(4, 3, dtype=torch.float64)
    model.latents = lambda n: z[:n]  # fixed noise so the anchor is known
    anchor = model.generator(z).detach().clone()
    opt = torch.optim.SGD(model.generator.parameters(), lr=0.5)
    vis = []
    for u in model.train_step({"x": torch.randn(4, 2, dtype=torch.float64)}, StepContext(0)):
        if u.groups != ("generator",):
            continue
        with torch.no_grad():
            expect = (model.generator(z) - anchor).square().mean()
        assert torch.allclose(u.logs["vi"], expect)
        vis.append(float(u.logs["vi"].detach()))
        opt.zero_grad()
        u.loss.backward()
        opt.step()
    # zero at the first g-step, then the distance from the *same* pre-update anchor
    assert vis[0] == 0 and vis[1] > 0 and vis[2] > 0
    with pytest.raises(ConfigError, match="g_steps >= 2"):
        tiny_gan(vi_weight=1.0)


def test_weight_clipping_holds_after_every_update():
    model = tiny_gan(objective="wasserstein", clip=0.01, n_critic=2)
    assert all(float(p.detach().abs().max()) <= 0.01 for p in model.critic.parameters())
    opt = torch.optim.SGD(model.critic.parameters(), lr=10.0)
    for u in model.train_step({"x": torch.randn(8, 2, dtype=torch.float64)}, StepContext(0)):
        # every critic/generator forward sees clipped weights
        assert all(float(p.detach().abs().max()) <= 0.01 + 1e-12 for p in model.critic.parameters())
        if u.groups == ("critic",):
            opt.zero_grad()
            u.loss.backward()
            opt.step()


@pytest.mark.parametrize("net,shape", [("mlp", (2,)), ("dcgan", (1, 8, 8)), ("dcgan", (1, 28, 28)),
                                       ("dcgan", (3, 32, 32)), ("resnet", (3, 32, 32))])
def test_network_shapes(net, shape):
    g, d = build_nets(net, 5, shape, 8, 2, "batch", "none", "tanh" if net != "mlp" else "none")
    x = g(torch.randn(3, 5))
    assert x.shape == (3, *shape) and d(x).shape == (3,)


def test_bad_configs_name_valid_choices():
    # choices are checked when the config is built from its mapping, before any data or model
    critic = "model.critic."
    for raw, key, valid in (({"critic": {"penalty": "wgp"}}, critic + "penalty", "gp"),
                            ({"mode": "simultaneous"}, "model.mode", "single_loss"),
                            ({"net": "vgg"}, "model.net", "resnet"),
                            ({"critic": {"objective": "wgan"}}, critic + "objective", "wasserstein"),
                            ({"critic": {"divergence": "jeffrey", "objective": "fgan"}},
                             critic + "divergence", "squared_hellinger"),
                            ({"sampler": "hub"}, "model.sampler", "hubness"),
                            ({"critic": {"grad_norm": "sn"}}, critic + "grad_norm", "gran")):
        with pytest.raises(ConfigError, match=f"unknown {key} .*{valid}"):
            build_dataclass(GAN.Config, {"hidden": 8, "depth": 1, **raw}, "model.")
    with pytest.raises(ConfigError, match="16x16"):
        GAN(GAN.Config(net="resnet", hidden=8), (1, 8, 8))
    with pytest.raises(ConfigError, match="needs square images"):
        GAN(GAN.Config(net="dcgan", hidden=8), (2,))
    with pytest.raises(ConfigError, match="critic.norm: none"):
        gan_config(net="resnet", norm="layer")
    with pytest.raises(ConfigError, match="single_loss"):
        gan_config(mode="single_loss", n_critic=5, hidden=8, depth=1)
