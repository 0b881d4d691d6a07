"""Time per generator update: alternating (1 critic + 1 generator Update) vs single-loss training,
for WGAN-GP, hinge and non-saturating losses (each single-loss run uses the formulation
`genlab.models.gan.single_loss.formulation` picks for it).

Both models have the same nets, objective and batch; each trainer step yields one generator
update either way (alternating with n_critic = 1, so the two do the same amount of learning).
The Updates are applied exactly as genlab's Trainer applies them (zero grads, backward, optimizer
step per named group). Runs are interleaved in one process -- block of alternating steps, block of
single-loss steps, repeated, every objective in the same round -- so machine load affects all
alike; the median block is reported.

    python benchmarks/gan_speed.py [--net dcgan|mlp] [--objectives wgan-gp,hinge,nonsaturating]
                                   [--rounds 5] [--steps 20]

Prints the table and writes benchmarks/results/gan_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch

from genlab.adversarial import CriticConfig
from genlab.models import StepContext
from genlab.models.gan.model import GAN
from genlab.models.gan.single_loss import formulation

SETUPS = {
    "dcgan": {"shape": (1, 28, 28), "cfg": {"net": "dcgan", "hidden": 32, "latent_dim": 64,
                                            "generator_norm": "batch", "output": "tanh"}},
    "mlp": {"shape": (2,), "cfg": {"net": "mlp", "hidden": 512, "depth": 3, "latent_dim": 2}},
}


OBJECTIVES = {
    "wgan-gp": {"objective": "wasserstein", "penalty": "gp"},
    "hinge": {"objective": "hinge"},
    "nonsaturating": {"objective": "nonsaturating"},
    "minimax": {"objective": "minimax"},
    "wgan-sn": {"objective": "wasserstein", "spectral_norm": True},
}


def make(mode: str, setup: dict, objective: dict, seed: int = 0) -> tuple[GAN, dict]:
    torch.manual_seed(seed)
    model = GAN(GAN.Config(mode=mode, critic=CriticConfig(**objective), **setup["cfg"]), setup["shape"])
    opts = {g: torch.optim.Adam(ps, lr=2e-4, betas=(0.5, 0.9)) for g, ps in model.param_groups().items()}
    return model, opts


def train_steps(model: GAN, opts: dict, data: torch.Tensor, steps: int) -> float:
    """Seconds for `steps` trainer steps, applying Updates like genlab.train.Trainer."""
    t0 = time.perf_counter()
    for i in range(steps):
        for u in model.train_step({"x": data}, StepContext(i)):
            model.zero_grad(set_to_none=True)
            u.loss.backward()
            for g in u.groups:
                opts[g].step()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--net", choices=list(SETUPS), default="dcgan")
    ap.add_argument("--objectives", default="wgan-gp,hinge,nonsaturating",
                    help=f"comma-separated, from {', '.join(OBJECTIVES)}")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20, help="generator updates per timed block")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "gan_speed.json"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    setup = SETUPS[args.net]
    names = args.objectives.split(",")
    unknown = [n for n in names if n not in OBJECTIVES]
    if unknown:
        ap.error(f"unknown objective {unknown[0]!r}; choose from {', '.join(OBJECTIVES)}")
    torch.manual_seed(0)
    data = torch.rand(args.batch, *setup["shape"]) * 2 - 1
    runs = {(n, m): make(m, setup, OBJECTIVES[n]) for n in names for m in ("alternating", "single_loss")}
    for model, opts in runs.values():  # warm-up (allocator, first-call overheads)
        train_steps(model, opts, data, 2)
    times: dict[tuple[str, str], list[float]] = {k: [] for k in runs}
    for _ in range(args.rounds):
        for key, (model, opts) in runs.items():
            times[key].append(train_steps(model, opts, data, args.steps) / args.steps)
    med = {k: statistics.median(t) for k, t in times.items()}
    load = os.getloadavg()
    protocol = (f"protocol: {args.net} nets {setup['cfg']}, batch {args.batch}, Adam, {args.rounds} "
                f"interleaved rounds x {args.steps} generator updates per mode and objective, median "
                f"seconds per generator update, {args.threads} CPU thread(s), torch {torch.__version__}, "
                f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(protocol)
    print(f"  {'objective':14s} {'formulation':12s} {'alternating ms':>15s} {'single ms':>10s} {'ratio':>6s}")
    rows = {}
    for n in names:
        model = runs[(n, "single_loss")][0]
        how = formulation(model.objective, model.cfg.critic.norm == "batch")
        alt, single = med[(n, "alternating")], med[(n, "single_loss")]
        rows[n] = {"formulation": how, "alternating_s": alt, "single_loss_s": single,
                   "ratio_single_over_alternating": single / alt,
                   "rounds_alternating": times[(n, "alternating")],
                   "rounds_single_loss": times[(n, "single_loss")]}
        print(f"  {n:14s} {how:12s} {1000 * alt:15.2f} {1000 * single:10.2f} {single / alt:6.3f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"protocol": protocol, "load_average": load, "objectives": rows},
                              indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
