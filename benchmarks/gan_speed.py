"""Time per generator update: alternating (1 critic + 1 generator Update) vs single-loss training.

Both models have the same nets, objective and batch; each trainer step yields one generator
update either way (alternating with n_critic = 1, so the two do the same amount of learning).
The Updates are applied exactly as genlab's Trainer applies them (zero grads, backward, optimizer
step per named group). Runs are interleaved in one process -- block of alternating steps, block of
single-loss steps, repeated -- so machine load affects both alike; the median block is reported.

    python benchmarks/gan_speed.py [--net dcgan|mlp] [--rounds 5] [--steps 20]

Prints the table and writes benchmarks/results/gan_speed.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from genlab.models import StepContext
from genlab.models.gan.model import GAN

SETUPS = {
    "dcgan": {"shape": (1, 28, 28), "cfg": {"net": "dcgan", "hidden": 32, "latent_dim": 64,
                                            "generator_norm": "batch", "output": "tanh"}},
    "mlp": {"shape": (2,), "cfg": {"net": "mlp", "hidden": 512, "depth": 3, "latent_dim": 2}},
}


def make(mode: str, setup: dict, objective: str, seed: int = 0) -> tuple[GAN, dict]:
    torch.manual_seed(seed)
    model = GAN(GAN.Config(objective=objective, mode=mode, **setup["cfg"]), setup["shape"])
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
    ap.add_argument("--objective", default="hinge")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20, help="generator updates per timed block")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "gan_speed.json"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    setup = SETUPS[args.net]
    torch.manual_seed(0)
    data = torch.rand(args.batch, *setup["shape"]) * 2 - 1
    models = {m: make(m, setup, args.objective) for m in ("alternating", "single_loss")}
    for model, opts in models.values():  # warm-up (allocator, first-call overheads)
        train_steps(model, opts, data, 2)
    times: dict[str, list[float]] = {m: [] for m in models}
    for _ in range(args.rounds):
        for mode, (model, opts) in models.items():
            times[mode].append(train_steps(model, opts, data, args.steps) / args.steps)
    med = {m: statistics.median(t) for m, t in times.items()}
    ratio = med["single_loss"] / med["alternating"]
    protocol = (f"protocol: {args.net} nets {setup['cfg']}, {args.objective} loss, batch {args.batch}, "
                f"Adam, {args.rounds} interleaved rounds x {args.steps} generator updates per mode, "
                f"median seconds per generator update, {args.threads} CPU thread(s)")
    print(protocol)
    for mode in models:
        print(f"  {mode:12s} {1000 * med[mode]:8.2f} ms per generator update "
              f"(rounds: {', '.join(f'{1000 * t:.1f}' for t in times[mode])})")
    print(f"  single_loss / alternating time ratio: {ratio:.3f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"protocol": protocol, "seconds_per_update": med, "rounds": times,
                               "ratio_single_over_alternating": ratio}, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
