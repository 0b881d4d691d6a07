"""Optimizer derivations on two genlab models at a fixed step budget, and their cost per step.

    .venv/bin/python benchmarks/optimizers.py           # 1 thread, ~13 min wall at load 5 (reported)
    .venv/bin/python benchmarks/optimizers.py --quick   # a ~3 min smoke run
    .venv/bin/python benchmarks/optimizers.py --full    # the presets' models and step budgets (hours)

Part 1: Adam, Adam + Lookahead (k=5, alpha=0.5), a LAMB-style Adam (decoupled weight decay 0.01 and
a per-tensor trust ratio), and Heun next to plain gradient descent at the same learning rate (its
Euler counterpart), each training the `vae-digits` model (final train loss, test NLL by importance
sampling) and the `wgan-gp-toy` WGAN-GP on 8 Gaussians (final critic loss, modes captured, share
of high-quality samples) for 3 seeds. All run in one plain loop over the model's `train_step`
(Heun needs a closure, which genlab's Trainer does not give): for Heun, the closure replays the
step's random stream to re-evaluate the same update's loss.
Part 2: time per `step()` of genlab's Lookahead and LAMB-style wrappers against
`pytorch_optimizer.Lookahead` and `pytorch_optimizer.Lamb` on the same parameters and gradients
(the LAMB-style stack over torch's default foreach Adam and over its fused Adam), and of Heun
next to two plain SGD steps (`--timing-only` runs just this part).
Writes benchmarks/results/optimizers.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import pytorch_optimizer
import torch
from torch.optim import Optimizer

from genlab.config import load_config
from genlab.core.protocol import StepContext
from genlab.data import BatchStream, load_dataset, pixels_for
from genlab.eval.evaluate import likelihood_metrics
from genlab.eval.sample_quality import toy_metrics
from genlab.models import build_model
from genlab.optim import DecoupledWeightDecay, Heun, LayerwiseAdaptation, Lookahead, flat_params

RESULTS = Path(__file__).parent / "results"
Make = Callable[[list[torch.nn.Parameter], float], Optimizer]


def _adam(params, lr, betas):
    return torch.optim.Adam(params, lr, betas=betas)


def optimizers(betas: tuple[float, float], gd_lr: float) -> dict[str, tuple[Make, float | None]]:
    """name -> (builder(params, lr), fixed lr or None for the task's Adam lr)."""
    return {
        "adam": (lambda p, lr: _adam(p, lr, betas), None),
        "adam+lookahead": (lambda p, lr: Lookahead(_adam(p, lr, betas), k=5, alpha=0.5), None),
        "lamb-style": (lambda p, lr: LayerwiseAdaptation(DecoupledWeightDecay(_adam(p, lr, betas), 0.01)),
                       None),
        "gd (euler)": (lambda p, lr: torch.optim.SGD(p, lr), gd_lr),
        "heun": (lambda p, lr: Heun(p, lr), gd_lr),
    }


_SMALL_WGAN = ["model.hidden=64", "data.batch_size=320", "optim.default.lr=1.0e-3", "data.n_samples=20000"]
BUDGETS = ("quick", "default", "full")
TASKS = {  # preset -> (overrides per budget, Adam betas, lr of gd/heun)
    "vae-digits": ({"quick": ["train.steps=300", "model.hidden=128"],
                    "default": ["train.steps=1000", "model.hidden=128"],
                    "full": ["train.steps=4000"]}, (0.9, 0.999), 0.05),
    "wgan-gp-toy": ({"quick": ["train.steps=100", *_SMALL_WGAN],
                     "default": ["train.steps=300", *_SMALL_WGAN],
                     "full": ["train.steps=3000"]}, (0.5, 0.9), 0.02),
}


def train(preset: str, overrides: list[str], name: str, make: Make, lr: float | None, seed: int,
          eval_quick: bool) -> dict:
    cfg = load_config(preset, overrides)
    torch.manual_seed(seed)
    ds = load_dataset(cfg.data)
    pixels = pixels_for(ds, cfg.data)
    model = build_model(cfg.model.name, cfg.model.params, ds.spec)
    groups = {g: flat_params(ps) for g, ps in model.param_groups().items()}
    base_lr = cfg.optim_for("default").lr
    opts = {g: make(ps, lr if lr is not None else base_lr) for g, ps in groups.items()}
    clip = cfg.optim_for("default").grad_clip
    stream = BatchStream(ds.split_tensors("train"), cfg.data.batch_size, seed=seed)
    losses: dict[str, list[float]] = {}  # group of the update -> loss per update
    t0 = time.perf_counter()
    for step in range(cfg.train.steps):
        batch = dict(next(stream))
        if pixels is not None:
            batch["x"] = pixels(batch["x"])
        ctx, rng = StepContext(step), torch.get_rng_state()
        for j, u in enumerate(model.train_step(batch, ctx)):
            params = [p for g in u.groups for p in groups[g]]

            def backward(loss, params=params):
                for p in params:
                    p.grad = None
                loss.backward(inputs=params)
                if clip:
                    torch.nn.utils.clip_grad_norm_(params, clip)
                return loss.detach()

            def closure(j=j, backward=backward, rng=rng, batch=batch, ctx=ctx):
                # the same update's loss at the current weights: replay the step's random stream
                with torch.random.fork_rng():
                    torch.set_rng_state(rng)
                    replay = next(itertools.islice(model.train_step(batch, ctx), j, None))
                    return backward(replay.loss)

            for g in u.groups:
                if isinstance(opts[g], Heun):
                    loss = opts[g].step(closure)
                else:
                    loss = backward(u.loss)
                    opts[g].step()
            losses.setdefault("+".join(u.groups), []).append(float(loss))
    seconds = time.perf_counter() - t0
    out: dict = {"seconds": seconds}
    for group, values in losses.items():  # mean over the last 20 steps' updates
        tail = values[-len(values) // cfg.train.steps * 20:]
        out[f"final_loss/{group}"] = sum(tail) / len(tail)
    model.eval()
    with torch.no_grad():
        if ds.is_image:
            cfg.eval.n_test = 200 if eval_quick else 0
            cfg.eval.importance_samples = 100 if eval_quick else 1000
            lik = likelihood_metrics(model, ds, pixels, cfg.eval, torch.device("cpu"))
            out["test_nll_nats"] = -lik["log_likelihood_is_nats"]
            out["test_bits_per_dim"] = lik["log_likelihood_is_bits_per_dim"]  # already a cost
        else:
            toy = toy_metrics(model.sample(1024), ds)
            out.update({"modes": toy["n_modes"], "high_quality": toy["high_quality"]})
    return out


def time_steps(quick: bool) -> dict:
    """ms per step() on an MLP's parameters with fixed random gradients (1 thread).

    Rows run in interleaved rounds (each round times every row once) and each row keeps its best
    round, so load drifting over time hits every row alike; the load average is recorded.
    pytorch_optimizer has no Heun: its row is set next to two plain SGD steps (its two Euler steps).
    """
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(784, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 1024),
                              torch.nn.ReLU(), torch.nn.Linear(1024, 10))
    params = list(net.parameters())

    def twice(opt: Optimizer) -> Callable[[], object]:
        return lambda: (opt.step(), opt.step())

    def with_closure(opt: Optimizer) -> Callable[[], object]:
        return lambda: opt.step(lambda: 0.0)  # gradients stay fixed: times the optimizer's own work

    def lamb_style(**adam: bool) -> Callable[[], object]:
        return LayerwiseAdaptation(DecoupledWeightDecay(torch.optim.Adam(params, 1e-3, **adam), 0.01)).step

    rows: dict[str, Callable[[], Callable[[], object]]] = {
        "adam (torch, reference)": lambda: torch.optim.Adam(params, 1e-3).step,
        "lookahead: genlab": lambda: Lookahead(torch.optim.Adam(params, 1e-3), k=5, alpha=0.5).step,
        "lookahead: pytorch_optimizer": lambda: pytorch_optimizer.Lookahead(
            torch.optim.Adam(params, 1e-3), k=5, alpha=0.5).step,
        "lamb: genlab layerwise(decoupled(Adam))": lamb_style,
        "lamb: genlab layerwise(decoupled(Adam, fused=True))": lambda: lamb_style(fused=True),
        "lamb: pytorch_optimizer.Lamb": lambda: pytorch_optimizer.Lamb(params, 1e-3, weight_decay=0.01).step,
        "heun: genlab (closure keeps the gradients)": lambda: with_closure(Heun(params, 1e-3)),
        "2 x sgd (torch, reference for heun)": lambda: twice(torch.optim.SGD(params, 1e-3)),
    }
    n, reps = (30, 5) if quick else (100, 10)
    for p in params:
        p.grad = torch.randn_like(p) * 1e-3
    steps = {name: make() for name, make in rows.items()}
    for step in steps.values():  # allocate the state before timing
        for _ in range(10):
            step()
    load_before = os.getloadavg()
    best = {name: math.inf for name in steps}
    for _ in range(reps):
        for name, step in steps.items():
            t0 = time.perf_counter()
            for _ in range(n):
                step()
            best[name] = min(best[name], (time.perf_counter() - t0) / n * 1e3)
    return {"params": sum(p.numel() for p in params), "steps_per_round": n, "rounds": reps,
            "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
            "rows": [{"optimizer": name, "ms_per_step": ms} for name, ms in best.items()]}


def mean_sd(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--quick", action="store_true", help="a smoke run: fewer steps, a smaller timing")
    budget.add_argument("--full", action="store_true", help="the presets' models and step budgets")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--timing-only", action="store_true", help="only the time-per-step table")
    args = parser.parse_args()
    torch.set_num_threads(1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.timing_only:
        print_timing(time_steps(args.quick))
        return
    runs = []
    level = "quick" if args.quick else "full" if args.full else "default"
    for preset, (budgets, betas, gd_lr) in TASKS.items():
        over = ["train.device=cpu", *budgets[level]]
        for name, (make, lr) in optimizers(betas, gd_lr).items():
            for seed in range(args.seeds):
                res = train(preset, over, name, make, lr, seed, args.quick)
                runs.append({"task": preset, "optimizer": name, "seed": seed,
                             "lr": lr if lr is not None else "preset", **res})
                print(json.dumps(runs[-1]), flush=True)
    timing = time_steps(args.quick)
    (RESULTS / "optimizers.json").write_text(json.dumps({"budget": level, "runs": runs,
                                                         "step_time": timing}, indent=1))
    metrics = {"vae-digits": ["final_loss/model", "test_nll_nats"],
               "wgan-gp-toy": ["final_loss/critic", "modes", "high_quality"]}
    for task, keys in metrics.items():
        budget = " ".join(TASKS[task][0][level])
        print(f"\n### {task} ({args.seeds} seeds, mean ± sd; {budget}; gd/heun lr {TASKS[task][2]})\n")
        print("| optimizer | " + " | ".join(keys) + " | s/run |")
        print("|---" * (len(keys) + 2) + "|")
        for name in optimizers((0.9, 0.999), 0.0):
            rows = [r for r in runs if r["task"] == task and r["optimizer"] == name]
            cells = [mean_sd([float(r[k]) for r in rows]) for k in keys]
            seconds = statistics.mean(r["seconds"] for r in rows)
            print(f"| {name} | " + " | ".join(cells) + f" | {seconds:.1f} |")
    print_timing(timing)


def print_timing(timing: dict) -> None:
    print(f"\n### time per step (1 thread, MLP with {timing['params']:,} parameters, fixed gradients, "
          f"best of {timing['rounds']} interleaved rounds of {timing['steps_per_round']} steps; "
          f"load average {timing['loadavg_before'][0]:.2f} before, {timing['loadavg_after'][0]:.2f} after)\n")
    print("| optimizer | ms/step |\n|---|---|")
    for t in timing["rows"]:
        print(f"| {t['optimizer']} | {t['ms_per_step']:.2f} |")


if __name__ == "__main__":
    main()
