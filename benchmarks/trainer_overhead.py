"""Time per step of genlab's trainer against a bare hand-written PyTorch loop.

Both sides train the same model (same initial weights, data, batch, optimizer, dequantization) in
one process. Each round runs every side once, in a rotating order (so neither side always runs
right after the other), and the ratio genlab/bare is taken per round, pairing runs made under the
same machine load; the table gives the median over rounds and the interquartile range of the
per-round ratios (min and max are in the JSON). Many short rounds pair better than a few long ones.
Times are per-window step times after the first window, read at the same points on both sides:
every `window` steps, after the host sync both make there (the trainer's log flush, the bare loop's
`loss.item()`). The trainer's window covers data, transform, train step, backward, optimizer, log
bookkeeping and flush; the one-off work of a run (setup, final checkpoint) is outside it.

The clock is the process's CPU time by default (`--clock cpu`): with one thread it equals the wall
time on an idle machine, and it does not count the time other processes take the core from us,
which on a shared machine makes the wall time swing by tens of percent between runs.
`--clock wall` uses `time.perf_counter` instead.

Two bare loops are timed:
  bare          torch's default optimizer settings: `torch.optim.Adam(params, lr)`, which on CPU
                tensors runs the per-parameter for-loop implementation (torch picks `foreach` by
                itself only for CUDA tensors);
  bare-foreach  `Adam(..., foreach=True)`, the multi-tensor implementation genlab's optimizers use
                (bit-identical on CPU), so genlab/bare-foreach isolates the trainer's own cost.

The toy-GAN cases are the smallest models genlab trains (MLP 3x64 generator and critic, 2-D data
from 8 Gaussians, 64 examples per update): there the per-update work of the trainer (update
generator, optimizer calls, log bookkeeping) and of the model (scoring, objective, latents, logs)
weighs most. Two of them: the non-saturating GAN (1 critic update + 1 generator update per step,
data batch 64) and WGAN-GP (5 critic updates, lambda 10, + 1 generator update per step, data batch
5 x 64 = 320). Their bare loop is a careful GAN step written by hand with plain torch ops, sharing
only the networks (same initial weights) with genlab: per critic update fresh latents, fakes made
under no_grad, the loss (and the gradient penalty on random interpolates) and an optimizer step;
then the critic is frozen (requires_grad_(False)) for the generator update and unfrozen after.

    python benchmarks/trainer_overhead.py [--quick] [--reps 12] [--steps 200] [--threads 1] [--clock cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from genlab.config import Config, DataConfig
from genlab.data import Dataset, Pixels, load_dataset
from genlab.models import build_model
from genlab.train import Trainer

Clock = Callable[[], float]
CLOCKS: dict[str, Clock] = {"cpu": time.process_time, "wall": time.perf_counter}


def random_images(n: int, size: int) -> Dataset:
    def draw(m: int) -> torch.Tensor:
        return torch.randint(0, 256, (m, 1, size, size), dtype=torch.uint8)

    return Dataset(f"random-{size}", draw(n), draw(64), levels=256)


TOY_GAN = {"name": "gan", "net": "mlp", "hidden": 64, "depth": 3, "latent_dim": 2}


def toy_data() -> Dataset:
    return load_dataset(DataConfig(name="8gaussians"))


CASES = {
    # name: (model section, dataset factory, batch size)
    "gan-ns toy 2-D": ({**TOY_GAN, "critic": {"objective": "nonsaturating"}}, toy_data, 64),
    "wgan-gp toy 2-D": ({**TOY_GAN, "critic": {"objective": "wasserstein", "penalty": "gp",
                                               "penalty_weight": 10.0, "n_critic": 5}}, toy_data, 5 * 64),
    "vae-mlp digits 8x8": ({"name": "vae", "latent_dim": 16, "hidden": 256, "depth": 2},
                           lambda: load_dataset(DataConfig(name="digits")), 128),
    "vae-conv 28x28": ({"name": "vae", "latent_dim": 16, "net": "conv", "hidden": 32},
                       lambda: random_images(2048, 28), 64),
}


DEFAULT_CASES = ("gan-ns toy 2-D", "wgan-gp toy 2-D", "vae-mlp digits 8x8")


def config(model: dict, batch: int, steps: int, window: int) -> Config:
    return Config.from_dict({
        "model": model, "data": {"name": "digits", "batch_size": batch},
        "optim": {"default": {"name": "adam", "lr": 1e-3}},
        "train": {"steps": steps, "log_every": window, "ckpt_every": 0, "progress": False},
    })


def vae_step(model, opts):
    opt = opts["default"]

    def step(x: torch.Tensor) -> torch.Tensor:
        elbo, _, _ = model.elbo(x)
        loss = -elbo.mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    return step


def gan_step(model, opts, params):
    """The GAN step a careful person writes by hand, on genlab's networks (same initial weights):
    non-saturating (softplus) or WGAN-GP losses written out in torch ops, fresh latents per update,
    the critic frozen with requires_grad_(False) during the generator update."""
    c = params.critic
    wgan_gp = c.objective == "wasserstein" and c.penalty == "gp"
    if not (wgan_gp or (c.objective == "nonsaturating" and c.penalty == "none")) or c.r1_weight or \
            c.grad_norm != "none" or c.spectral_norm or c.clip is not None:
        raise ValueError("the hand-written GAN step covers WGAN-GP and the plain non-saturating GAN")
    G, D = model.generator, model.critic.net
    d_params = list(D.parameters())
    k, dim, lam = c.n_critic, params.latent_dim, c.penalty_weight
    opt_d, opt_g = opts["critic"], opts["generator"]

    def critic_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        if not wgan_gp:
            return F.softplus(-D(real)).mean() + F.softplus(D(fake)).mean()
        loss = D(fake).mean() - D(real).mean()
        eps = torch.rand(real.shape[0], 1)
        x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
        (g,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
        return loss + lam * (g.norm(dim=1) - 1).square().mean()

    def step(x: torch.Tensor) -> torch.Tensor:
        m = x.shape[0] // k
        for i in range(k):
            with torch.no_grad():
                fake = G(torch.randn(m, dim))
            d_loss = critic_loss(x[i * m:(i + 1) * m], fake)
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
        for p in d_params:
            p.requires_grad_(False)
        s = D(G(torch.randn(m, dim)))
        g_loss = -s.mean() if wgan_gp else F.softplus(-s).mean()
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        for p in d_params:
            p.requires_grad_(True)
        return g_loss

    return step


def bare_loop(cfg: Config, dataset: Dataset, steps: int, window: int, clock: Clock = time.process_time,
              foreach: bool = False) -> list[float]:
    """The loop a person writes by hand: seconds per step of each window after the first.
    `foreach=False` leaves Adam at torch's defaults (per-parameter loop on CPU)."""
    torch.manual_seed(cfg.train.seed)
    model = build_model(cfg.model.name, cfg.model.params, dataset.spec)
    opt_kw = {"foreach": True} if foreach else {}
    if cfg.model.name == "gan":
        opts = {g: torch.optim.Adam(ps, lr=1e-3, **opt_kw) for g, ps in model.param_groups().items()}
        step_fn = gan_step(model, opts, cfg.model.params)
    else:
        step_fn = vae_step(model, {"default": torch.optim.Adam(model.parameters(), lr=1e-3, **opt_kw)})
    pixels = Pixels(dataset.levels) if dataset.is_image else (lambda x: x)
    data, b = dataset.train, cfg.data.batch_size
    per_epoch = len(data) // b
    marks, perm = [clock()], torch.randperm(len(data))
    for step in range(steps):
        i = step % per_epoch
        if i == 0:
            perm = torch.randperm(len(data))
        loss = step_fn(pixels(data[perm[i * b:(i + 1) * b]]))
        if (step + 1) % window == 0:
            loss.item()  # the trainer also syncs once per window
            marks.append(clock())
    return [(t1 - t0) / window for t0, t1 in zip(marks[1:], marks[2:])]


class WindowClock:
    """A trainer hook that never runs: its `due` (called after every step, after the log flush)
    reads the clock every `window` steps."""

    def __init__(self, window: int, clock: Clock):
        self.window, self.clock, self.marks = window, clock, [clock()]

    def due(self, step: int, end: bool) -> bool:
        if step % self.window == 0:
            self.marks.append(self.clock())
        return False

    def __call__(self, trainer: Trainer) -> None:  # pragma: no cover - never due
        pass


def genlab_trainer(cfg: Config, dataset: Dataset, steps: int, window: int,
                   clock: Clock = time.process_time) -> list[float]:
    """genlab's Trainer on the same model: seconds per step of each window after the first."""
    with tempfile.TemporaryDirectory() as tmp:
        marks = WindowClock(window, clock)
        Trainer(cfg, tmp, dataset=dataset, hooks=[marks]).fit()
    return [(t1 - t0) / window for t0, t1 in zip(marks.marks[1:], marks.marks[2:])]


SIDES: dict[str, Callable[[Config, Dataset, int, int, Clock], list[float]]] = {
    "bare": lambda c, d, s, w, k: bare_loop(c, d, s, w, k, foreach=False),
    "bare-foreach": lambda c, d, s, w, k: bare_loop(c, d, s, w, k, foreach=True),
    "genlab": genlab_trainer,
}


def run_case(name: str, reps: int, steps: int, clock: Clock) -> dict:
    """`reps` rounds of every side in rotating order; per-round medians and paired ratios."""
    model, make_data, batch = CASES[name]
    dataset = make_data()
    window = steps // 4
    cfg = config(model, batch, steps, window)
    sides = list(SIDES)
    times: dict[str, list[float]] = {s: [] for s in sides}
    for r in range(reps):
        for side in sides[r % 3:] + sides[:r % 3]:
            times[side].append(statistics.median(SIDES[side](cfg, dataset, steps, window, clock)))
    row: dict = {"case": name, "batch": batch}
    for side in sides:
        row[f"{side}_ms"] = 1e3 * statistics.median(times[side])
        row[f"{side}_all_ms"] = [1e3 * v for v in times[side]]
    for ref in ("bare", "bare-foreach"):
        ratios = [g / b for g, b in zip(times["genlab"], times[ref])]
        q1, _, q3 = statistics.quantiles(ratios, n=4)
        row[f"genlab/{ref}"] = statistics.median(ratios)
        row[f"genlab/{ref} iqr"] = [q1, q3]
        row[f"genlab/{ref} range"] = [min(ratios), max(ratios)]
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="4 rounds (about a minute)")
    ap.add_argument("--reps", type=int, default=None, help="rounds (default 12; 4 with --quick)")
    ap.add_argument("--steps", type=int, default=None, help="steps per run (default 200)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--clock", choices=CLOCKS, default="cpu")
    ap.add_argument("--cases", default=",".join(DEFAULT_CASES),
                    help=f"comma-separated subset of: {', '.join(CASES)} (the conv VAE, ~0.2 s/step on one "
                         "CPU thread, is left out by default to keep the run under 5 minutes)")
    ap.add_argument("--out", default="benchmarks/results/trainer_overhead.json")
    args = ap.parse_args()
    args.reps = args.reps or (4 if args.quick else 12)
    args.steps = args.steps or 200
    torch.set_num_threads(args.threads)
    t0, load0 = time.perf_counter(), os.getloadavg()
    rows = []
    for name in args.cases.split(","):
        rows.append(run_case(name, args.reps, args.steps, CLOCKS[args.clock]))
        print(f"  {name}: genlab/bare {rows[-1]['genlab/bare']:.3f}", flush=True)
    load = os.getloadavg()
    print(f"trainer overhead (CPU, {args.threads} thread(s), torch {torch.__version__}, {args.clock} clock, "
          f"{args.reps} rounds x {args.steps} steps, sides in rotating order; per run the median of its "
          f"per-window step times (first window dropped); ratio: median of the per-round ratios "
          f"[interquartile range]; load average {load0[0]:.2f} at start, "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at end; {time.perf_counter() - t0:.0f} s)")
    print("| case | batch | bare ms/step | bare-foreach ms/step | genlab ms/step | genlab/bare | "
          "genlab/bare-foreach |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        lo, hi = r["genlab/bare iqr"]
        lo2, hi2 = r["genlab/bare-foreach iqr"]
        print(f"| {r['case']} | {r['batch']} | {r['bare_ms']:.3f} | {r['bare-foreach_ms']:.3f} | "
              f"{r['genlab_ms']:.3f} | {r['genlab/bare']:.3f} [{lo:.3f}, {hi:.3f}] | "
              f"{r['genlab/bare-foreach']:.3f} [{lo2:.3f}, {hi2:.3f}] |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"load_average_start": load0, "load_average": load,
                                          "threads": args.threads, "clock": args.clock,
                                          "steps": args.steps, "reps": args.reps,
                                          "torch": torch.__version__, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
