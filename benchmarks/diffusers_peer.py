"""genlab's diffusion schedules and samplers against diffusers' DDPMScheduler / DDIMScheduler.

1. Schedule constants: max |Δβ_t| and |Δᾱ_t| for linear and cosine ("squaredcos_cap_v2"), T = 1000.
2. Trajectories: the same ε-network, the same x_T and the same variance noise (genlab draws from the
   global generator, diffusers' `step` from a generator holding the same state); max |Δx| over every
   step of DDPM (1000 steps, both variances) and DDIM (50 steps, η = 0 and 1), float64 with genlab's
   tables in the scheduler (the step rules alone) and float32 with diffusers' own tables.
3. Time per sampling step, genlab's sampler vs diffusers' scheduler loop (`for t: step(net(x, t), t, x)`),
   on the same network: none (ε̂ = 0.1 x, so only the loops' own work is timed), a TimeMLP on 2-D
   points (batch 1000: scheduler overhead visible) and a U-Net on 8x8 images (batch 64). CPU
   seconds of this process, rounds interleaved, median of per-round ratios (genlab / diffusers;
   < 1 is faster).

    python benchmarks/diffusers_peer.py [--rounds 5] [--threads 1]

JSON goes to benchmarks/results/diffusers_peer.json.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from diffusers import DDIMScheduler, DDPMScheduler  # noqa: E402

from genlab.models.diffusion.prediction import x0_from_eps  # noqa: E402
from genlab.models.diffusion.samplers import sample_ddim, sample_ddpm  # noqa: E402
from genlab.models.diffusion.schedules import NoiseSchedule  # noqa: E402
from genlab.nets.time import TimeMLP  # noqa: E402
from genlab.nets.unet import UNet  # noqa: E402

KINDS = {"linear": "linear", "cosine": "squaredcos_cap_v2"}


def scheduler(cls, kind, tables=None, **kw):
    ref = cls(num_train_timesteps=1000, beta_schedule=KINDS[kind], clip_sample=False, **kw)
    if tables is not None:
        ref.betas, ref.alphas, ref.alphas_cumprod = tables.betas, tables.alphas, tables.alpha_bar
        ref.one = torch.tensor(1.0, dtype=torch.float64)
        if hasattr(ref, "final_alpha_cumprod"):
            ref.final_alpha_cumprod = ref.one
    return ref


class FreeNet(torch.nn.Module):
    """ε̂ = 0.1 x: a stand-in network of negligible cost, so the timing shows the samplers' own steps."""

    def forward(self, x, t):
        return 0.1 * x


def denoiser(net, schedule):
    def denoise(x, t):
        eps = net(x, t.to(x.dtype) / 1000)
        return eps, x0_from_eps(x, eps, schedule.at("alpha_bar", t, x))
    return denoise


def diffusers_loop(sched, net, x, steps, gen=None, **kw):
    sched.set_timesteps(steps)
    out = []
    for td in sched.timesteps:
        eps = net(x, torch.full((len(x),), (int(td) + 1) / 1000, dtype=x.dtype))
        x = sched.step(eps, int(td), x, generator=gen, **kw).prev_sample
        out.append(x)
    return out


def trajectory_gap(kind, sampler, net, dtype, same_tables, **kw):
    schedule = NoiseSchedule.build(kind, 1000)
    net = net.to(dtype)
    x = torch.randn(256, 2, generator=torch.Generator().manual_seed(1), dtype=dtype)
    torch.manual_seed(3)
    state = torch.random.get_rng_state()
    ours = []
    with torch.no_grad():
        if sampler == "ddpm":
            sample_ddpm(denoiser(net, schedule), x, schedule, 1000, kw["variance"], trajectory=ours)
            variance_type = {"beta": "fixed_large", "posterior": "fixed_small"}[kw["variance"]]
            ref_sched = scheduler(DDPMScheduler, kind, schedule if same_tables else None,
                                  variance_type=variance_type)
            steps, step_kw = 1000, {}
        else:
            sample_ddim(denoiser(net, schedule), x, schedule, 50, kw["eta"], trajectory=ours)
            ref_sched = scheduler(DDIMScheduler, kind, schedule if same_tables else None)
            steps, step_kw = 50, {"eta": kw["eta"]}
        gen = torch.Generator()
        gen.set_state(state)
        ref = diffusers_loop(ref_sched, net, x, steps, gen, **step_kw)
    gaps = [(a - b).abs().max().item() for a, b in zip(ours, ref)]
    scale = max(a.abs().max().item() for a in ours)
    return max(gaps), scale


@torch.no_grad()
def run_genlab(sampler, model, schedule, x, steps):
    if sampler == "ddpm":
        sample_ddpm(denoiser(model, schedule), x, schedule, steps, "beta")
    else:
        sample_ddim(denoiser(model, schedule), x, schedule, steps, 0.0)


@torch.no_grad()
def run_diffusers(sampler, model, x, steps):
    if sampler == "ddpm":
        diffusers_loop(scheduler(DDPMScheduler, "linear", variance_type="fixed_large"), model, x, steps)
    else:
        diffusers_loop(scheduler(DDIMScheduler, "linear"), model, x, steps, eta=0.0)


def timed(fn):
    t = time.process_time()
    fn()
    return time.process_time() - t


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "diffusers_peer.json"))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    result: dict = {"constants": {}, "trajectories": {}, "timing": {}}

    for kind in KINDS:
        ours = NoiseSchedule.build(kind, 1000)
        ref = scheduler(DDPMScheduler, kind)
        result["constants"][kind] = {
            "max_abs_beta": (ours.betas - ref.betas.double()).abs().max().item(),
            "max_abs_alpha_bar": (ours.alpha_bar - ref.alphas_cumprod.double()).abs().max().item()}

    torch.manual_seed(0)
    net = TimeMLP(2, hidden=64, depth=2).eval()
    for kind in KINDS:
        for name, sampler, kw in (("ddpm-beta", "ddpm", {"variance": "beta"}),
                                  ("ddpm-posterior", "ddpm", {"variance": "posterior"}),
                                  ("ddim-eta0", "ddim", {"eta": 0.0}), ("ddim-eta1", "ddim", {"eta": 1.0})):
            for dtype, same in ((torch.float64, True), (torch.float32, False)):
                gap, scale = trajectory_gap(kind, sampler, net, dtype, same, **kw)
                key = f"{kind}/{name}/{str(dtype).split('.')[-1]}"
                result["trajectories"][key] = {"max_abs_diff": gap, "max_abs_x": scale}
    net = net.float()

    torch.manual_seed(0)
    cases = {
        # a network that costs nothing: what is left is each loop's own work per step
        "no-net-8x8-b64": (FreeNet(), (64, 1, 8, 8)),
        "mlp-2d-b1000": (TimeMLP(2, hidden=64, depth=2).eval(), (1000, 2)),
        "unet-8x8-b64": (UNet(1, base=32, mults=(1, 2), attention=False).eval(), (64, 1, 8, 8)),
    }
    for case, (model, shape) in cases.items():
        schedule = NoiseSchedule.build("linear", 1000)
        for sampler, steps in (("ddpm", 200), ("ddim", 50)):
            x = torch.randn(*shape)
            rounds = []
            ours = functools.partial(run_genlab, sampler, model, schedule, x, steps)
            theirs = functools.partial(run_diffusers, sampler, model, x, steps)
            for r in range(args.rounds):  # alternate which side goes first
                first, second = (ours, theirs) if r % 2 == 0 else (theirs, ours)
                a, b = timed(first), timed(second)
                pair = (a, b) if r % 2 == 0 else (b, a)
                rounds.append(pair)
            g = statistics.median(a for a, _ in rounds) / steps
            d = statistics.median(b for _, b in rounds) / steps
            ratios = [a / b for a, b in rounds]
            result["timing"][f"{case}/{sampler}-{steps}"] = {
                "genlab_ms_per_step": 1e3 * g, "diffusers_ms_per_step": 1e3 * d,
                "ratio_median": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios)}

    print("schedule constants (genlab float64 vs diffusers float32)")
    for k, v in result["constants"].items():
        print(f"  {k:8s} max|Δβ| {v['max_abs_beta']:.2e}  max|Δᾱ| {v['max_abs_alpha_bar']:.2e}")
    print("trajectories (max |Δx| over all steps; max |x|; their ratio): a random net does not denoise,")
    print("so |x| grows to 1e3..1e5 and float32 rounding of the two loops' different tables grows with it")
    for k, v in result["trajectories"].items():
        rel = v["max_abs_diff"] / v["max_abs_x"]
        print(f"  {k:32s} {v['max_abs_diff']:.2e}   {v['max_abs_x']:10.2f}   {rel:.1e}")
    print("time per sampling step (CPU ms, median of rounds; ratio genlab/diffusers, min..max)")
    for k, v in result["timing"].items():
        print(f"  {k:26s} genlab {v['genlab_ms_per_step']:7.3f}  diffusers {v['diffusers_ms_per_step']:7.3f}"
              f"  ratio {v['ratio_median']:.2f} ({v['ratio_min']:.2f}..{v['ratio_max']:.2f})")
    result["rounds"], result["threads"] = args.rounds, args.threads
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
