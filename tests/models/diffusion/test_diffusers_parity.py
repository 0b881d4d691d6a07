"""genlab's schedules and samplers against diffusers' DDPMScheduler / DDIMScheduler (0-based steps t - 1)."""

import pytest
import torch

from genlab.models.diffusion.prediction import x0_from_eps
from genlab.models.diffusion.samplers import sample_ddim, sample_ddpm, timesteps
from genlab.models.diffusion.schedules import NoiseSchedule
from tests.models.diffusion.gaussian import optimal_eps

diffusers = pytest.importorskip("diffusers")

KINDS = {"linear": "linear", "cosine": "squaredcos_cap_v2"}


def reference(cls, kind, constants=None, **kw):
    """diffusers' scheduler; with `constants` (a NoiseSchedule) its float32 tables are replaced by
    genlab's float64 ones, so that a trajectory comparison tests the step rules alone."""
    ref = cls(num_train_timesteps=1000, beta_schedule=KINDS[kind], clip_sample=False, **kw)
    if constants is not None:
        ref.betas, ref.alphas, ref.alphas_cumprod = constants.betas, constants.alphas, constants.alpha_bar
        ref.one = torch.tensor(1.0, dtype=torch.float64)
        if hasattr(ref, "final_alpha_cumprod"):
            ref.final_alpha_cumprod = ref.one
    return ref


# (dtype, genlab's constants in diffusers?, tolerance). float64 with the same tables: the step rules
# must agree to rounding. float32 with diffusers' own tables (their ᾱ_T under the cosine schedule is
# 1.3e-5 off in relative terms): rounding-level agreement on a bounded trajectory.
PRECISIONS = [(torch.float64, True, 1e-10), (torch.float32, False, 2e-4)]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_schedule_constants_equal_diffusers(kind):
    ours = NoiseSchedule.build(kind, 1000)
    for cls in (diffusers.DDPMScheduler, diffusers.DDIMScheduler):
        ref = reference(cls, kind)
        # why 1e-6: diffusers keeps float32 constants (cumprod over 1000 float32 products drifts
        # ~3e-7); genlab computes in float64
        torch.testing.assert_close(ours.betas, ref.betas.double(), atol=1e-6, rtol=0)
        torch.testing.assert_close(ours.alpha_bar, ref.alphas_cumprod.double(), atol=1e-6, rtol=0)


def eps_net(schedule):
    """A fixed ε-network of (x, t), t the 1-based step: the exact denoiser of Gaussian data plus a
    random MLP. A purely random net would not denoise, and its samples would grow to ~1e5 under
    the cosine schedule's β_T = 0.999, where float32 rounding alone separates any two loops."""
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(3, 32), torch.nn.Tanh(), torch.nn.Linear(32, 2))

    def net(x, t):
        tau = (t.float() / 1000)[:, None]
        noise = mlp(torch.cat([x.float(), tau], 1)).to(x.dtype)
        return optimal_eps(x, schedule.alpha_bar[t - 1]) + 0.1 * noise
    return net


def as_denoiser(net, schedule):
    def denoise(x, t):
        eps = net(x, t)
        return eps, x0_from_eps(x, eps, schedule.at("alpha_bar", t, x))
    return denoise


def diffusers_loop(scheduler, net, x, steps, **step_kw):
    """diffusers' sampling loop (the pipelines' `for t in timesteps: x = step(net(x, t), t, x)`)."""
    scheduler.set_timesteps(steps)
    gen = torch.Generator().manual_seed(7)
    gen.set_state(torch.random.get_rng_state())  # continue the global stream genlab draws from
    out = []
    for td in scheduler.timesteps:
        eps = net(x, torch.full((len(x),), int(td) + 1))
        x = scheduler.step(eps, int(td), x, generator=gen, **step_kw).prev_sample
        out.append(x)
    return out


def trajectories(sampler, scheduler_cls, kind: str, steps: int, dtype, same_tables: bool, sample_kw: dict,
                 scheduler_kw: dict, step_kw: dict, same_timesteps: bool = False) -> tuple[list, list]:
    """genlab's and diffusers' trajectories from the same x_T, ε-network and noise stream (without
    diffusers' last two cosine steps when it uses its own float32 tables)."""
    schedule = NoiseSchedule.build(kind, 1000)
    net = eps_net(schedule)
    x_T = torch.randn(64, 2, generator=torch.Generator().manual_seed(1), dtype=dtype)
    torch.manual_seed(3)
    state = torch.random.get_rng_state()
    ours: list = []
    sampler(as_denoiser(net, schedule), x_T, schedule, steps, trajectory=ours, **sample_kw)
    torch.random.set_rng_state(state)
    scheduler = reference(scheduler_cls, kind, schedule if same_tables else None, **scheduler_kw)
    ref = diffusers_loop(scheduler, net, x_T, steps, **step_kw)
    if same_timesteps:
        assert timesteps(1000, steps) == [int(t) + 1 for t in scheduler.timesteps]
    assert len(ours) == len(ref) == steps
    if not same_tables and kind == "cosine":
        # diffusers forms 1 - ᾱ_t from float32 ᾱ_t: at t = 1, 2 of the cosine schedule (1 - ᾱ_t of
        # 4e-5 and 1.6e-4) that difference carries up to 1e-3 relative error, genlab's float64 none
        ours, ref = ours[:-2], ref[:-2]
    return ours, ref


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("variance, variance_type", [("beta", "fixed_large"), ("posterior", "fixed_small")])
@pytest.mark.parametrize("steps", [1000, 40])
@pytest.mark.parametrize("dtype, same_tables, tol", PRECISIONS, ids=["float64", "float32"])
def test_ddpm_trajectory_equals_diffusers(kind, variance, variance_type, steps, dtype, same_tables, tol):
    ours, ref = trajectories(sample_ddpm, diffusers.DDPMScheduler, kind, steps, dtype, same_tables,
                             {"variance": variance}, {"variance_type": variance_type}, {})
    for i, (a, b) in enumerate(zip(ours, ref)):
        torch.testing.assert_close(a, b, atol=tol, rtol=tol, msg=f"step {i}")


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("eta", [0.0, 1.0])
@pytest.mark.parametrize("steps", [50, 10])
@pytest.mark.parametrize("dtype, same_tables, tol", PRECISIONS, ids=["float64", "float32"])
def test_ddim_trajectory_equals_diffusers(kind, eta, steps, dtype, same_tables, tol):
    ours, ref = trajectories(sample_ddim, diffusers.DDIMScheduler, kind, steps, dtype, same_tables,
                             {"eta": eta}, {}, {"eta": eta}, same_timesteps=True)
    for i, (a, b) in enumerate(zip(ours, ref)):
        torch.testing.assert_close(a, b, atol=tol, rtol=tol, msg=f"step {i}")
