"""`train.compile` on CPU: eager vs `torch.compile`d training steps of a small Glow and a conv VAE.

The model is compiled the way the Trainer does it (each top-level child's `forward` wrapped by
`torch.compile`, parameters untouched). Both copies start from the same weights; the first
compiled step (the compile itself) is timed separately, then the steps are timed in interleaved
rounds (process CPU time, median), and the losses of the first step are compared. Not run in CI.

    OMP_NUM_THREADS=1 python benchmarks/compile.py [--rounds 5] [--steps 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))  # the sibling benchmark scripts
from channels_last import glow, train_step  # noqa: E402

from genlab.models import MODELS  # noqa: E402

OUT = Path(__file__).parent / "results" / "compile.json"


def conv_vae() -> tuple[torch.nn.Module, torch.Tensor]:
    cls = MODELS.get("vae")
    return cls(cls.Config(latent_dim=16, net="conv", hidden=32), (1, 28, 28)), torch.rand(64, 1, 28, 28)


def compiled(model: torch.nn.Module) -> torch.nn.Module:
    for child in model.children():  # as genlab.train.Trainer does for train.compile=true
        child.forward = torch.compile(child.forward)  # type: ignore[method-assign]
    return model


def stepper(model: torch.nn.Module, x: torch.Tensor):
    opts = {g: torch.optim.Adam(ps, 1e-4, foreach=True) for g, ps in model.param_groups().items()}

    def step() -> float:
        torch.manual_seed(1)
        return float(train_step(model, opts, x))

    return step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    load = os.getloadavg()
    rows = []
    for name, make in (("glow L=2 K=4 hidden 64, 1x16x16, batch 64", glow),
                       ("conv VAE hidden 32, 1x28x28, batch 64", conv_vae)):
        torch.manual_seed(0)
        base, x = make()
        eager, comp = stepper(copy.deepcopy(base), x), stepper(compiled(copy.deepcopy(base)), x)
        first_eager = eager()
        t0 = time.perf_counter()
        first_comp = comp()  # compiles forward and backward graphs
        compile_s = time.perf_counter() - t0
        steps = {"eager": eager, "compiled": comp}
        times: dict[str, list[float]] = {k: [] for k in steps}
        for r in range(args.rounds):
            for key in sorted(steps, reverse=bool(r % 2)):  # alternate which side goes first
                t0 = time.process_time()
                for _ in range(args.steps):
                    steps[key]()
                times[key].append((time.process_time() - t0) / args.steps)
        med = {k: statistics.median(v) for k, v in times.items()}
        rows.append({"case": name, "eager_ms": 1e3 * med["eager"], "compiled_ms": 1e3 * med["compiled"],
                     "ratio": med["compiled"] / med["eager"], "compile_s": compile_s,
                     "first_loss_diff": abs(first_eager - first_comp)})
    print(f"torch.compile vs eager, {args.rounds} interleaved rounds x {args.steps} steps, CPU time, "
          f"{args.threads} thread(s), torch {torch.__version__}, load average "
          f"{load[0]:.2f} at start, {os.getloadavg()[0]:.2f} at end\n")
    print("| case | eager ms/step | compiled ms/step | compiled/eager | compile s (wall) | first-loss diff |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['case']} | {r['eager_ms']:.1f} | {r['compiled_ms']:.1f} | {r['ratio']:.3f} | "
              f"{r['compile_s']:.1f} | {r['first_loss_diff']:.1e} |")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"rows": rows, "load_average_start": load, "threads": args.threads,
                               "torch": torch.__version__}, indent=1) + "\n")
    print(f"\nwrote {OUT}")


if __name__ == "__main__":
    main()
