"""genlab's `cfm` against torchcfm on torchcfm's 2-D benchmark: 8 Gaussians -> two moons.

Both sides train the same network from the same initial weights on the same batches: torchcfm's
`MLP(dim=2, time_varying=True, w=64)` (3 hidden layers of 64, SELU, [x, t] input) and genlab's
`TimeMLP(2, hidden=64, depth=3, act="selu", time="concat")` (same layers, same state_dict keys), Adam
(lr 1e-3), batch 256, σ = 0.1 (torchcfm's 2-D notebooks), for I-CFM (`ConditionalFlowMatcher` vs
`path=icfm`) and OT-CFM (`ExactOptimalTransportConditionalFlowMatcher`, which draws `batch` pairs
with replacement from POT's exact plan, vs `path=otcfm`, one exact assignment by scipy's
`linear_sum_assignment`). Per seed, the batches and the initial weights are shared (t and ε are
drawn by each side).

Data: `torchcfm.utils` imports torchdyn, which is not installed, so its two generators are
re-implemented here from their definitions: `sample_8gaussians(n)` = torchcfm's
`eight_normal_sample(n, 2, scale=5, var=0.1)` (8 centres on the unit circle times 5, covariance
sqrt(0.1) I: torchcfm passes sqrt(var) as the covariance), and `sample_moons(n)` = torchdyn's
`generate_moons(n, noise=0.2) * 3 - 1` (n/2 evenly spaced points on each half circle, then one
uniform U[0, 0.2) shift added to both coordinates of a point).

Metric: W2 between 2000 samples and 2000 fresh moons (exact assignment,
`genlab.eval.metrics.wasserstein.wasserstein2`) at NFE 1 (one Euler step), NFE 10 (ten Euler steps)
and adaptive (dopri5, atol = rtol = 1e-4 as torchcfm's notebooks); torchcfm's models are
integrated with torchdiffeq, genlab's with `genlab.ode.solve`. Step time: CPU seconds of the
training step only (pairing, forward, backward, Adam step; the data is drawn beforehand), the two
sides alternating in chunks of 50 steps; the ratio genlab/torchcfm is the median over seeds of the
per-seed ratios of total step time.

    python benchmarks/torchcfm_peer.py [--steps 2000] [--seeds 0,1,2] [--threads 1]

Writes a table to stdout and JSON to benchmarks/results/torchcfm_peer.json.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from torchcfm.conditional_flow_matching import (
    ConditionalFlowMatcher,
    ExactOptimalTransportConditionalFlowMatcher,
)
from torchcfm.models.models import MLP
from torchdiffeq import odeint

from genlab.core.protocol import DataSpec, StepContext
from genlab.eval.metrics.wasserstein import wasserstein2
from genlab.models.cfm import CFM, Source

OUT = Path(__file__).parent / "results" / "torchcfm_peer.json"
SIGMA, BATCH, LR, N_EVAL = 0.1, 256, 1e-3, 2000
EVALS = {"nfe1": ("euler", 1), "nfe10": ("euler", 10), "adaptive": ("dopri5", None)}


def sample_8gaussians(n: int, g: torch.Generator) -> torch.Tensor:
    """torchcfm.utils.sample_8gaussians: eight_normal_sample(n, 2, scale=5, var=0.1)."""
    r = 1 / math.sqrt(2)
    centers = 5 * torch.tensor([(1, 0), (-1, 0), (0, 1), (0, -1), (r, r), (r, -r), (-r, r), (-r, -r)])
    noise = torch.randn(n, 2, generator=g) * math.sqrt(math.sqrt(0.1))  # covariance sqrt(var) I
    return (centers[torch.randint(0, 8, (n,), generator=g)] + noise).float()


def sample_moons(n: int, rng: np.random.Generator) -> torch.Tensor:
    """torchcfm.utils.sample_moons: torchdyn's generate_moons(n, noise=0.2) * 3 - 1."""
    n_out = n // 2
    n_in = n - n_out
    a, b = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n_in)
    x = np.vstack([np.append(np.cos(a), 1 - np.cos(b)), np.append(np.sin(a), 1 - np.sin(b) - 0.5)]).T
    x = x + rng.random((n, 1)) * 0.2
    return torch.from_numpy(x * 3 - 1).float()


class Queue(Source):
    """A source that hands out pre-drawn batches (so both sides see the same x0)."""

    def __init__(self, batches: list[torch.Tensor]):
        super().__init__((2,))
        self.batches = batches
        self.i = 0

    def sample(self, n: int, like: torch.Tensor) -> torch.Tensor:
        x = self.batches[self.i]
        self.i += 1
        return x


def genlab_model(path: str, init: dict) -> CFM:
    cls = CFM
    cfg = cls.Config(path=path, sigma=SIGMA, source="moons", hidden=64, depth=3, act="selu",
                     time="concat", atol=1e-4, rtol=1e-4)
    model = cls(cfg, DataSpec((2,)))
    model.net.load_state_dict(init)
    return model


def train_pair(method: str, seed: int, steps: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    x0s = [sample_8gaussians(BATCH, g) for _ in range(steps)]
    x1s = [sample_moons(BATCH, rng) for _ in range(steps)]
    torch.manual_seed(seed)
    theirs = MLP(dim=2, time_varying=True, w=64)
    ours = genlab_model("otcfm" if method == "otcfm" else "icfm", theirs.state_dict())
    ours.source = Queue(x0s)
    fm = (ExactOptimalTransportConditionalFlowMatcher if method == "otcfm" else ConditionalFlowMatcher)(SIGMA)
    opt_t = torch.optim.Adam(theirs.parameters(), lr=LR)
    opt_o = torch.optim.Adam(ours.parameters(), lr=LR)
    np.random.seed(seed)  # torchcfm's plan sampler draws from numpy's global generator

    def step_theirs(i: int) -> None:
        opt_t.zero_grad()
        t, xt, ut = fm.sample_location_and_conditional_flow(x0s[i], x1s[i])
        loss = (theirs(torch.cat([xt, t[:, None]], -1)) - ut).square().mean()
        loss.backward()
        opt_t.step()

    def step_ours(i: int) -> None:
        opt_o.zero_grad()
        (update,) = ours.train_step({"x": x1s[i]}, StepContext(i))
        update.loss.backward()
        opt_o.step()

    spent = {"genlab": 0.0, "torchcfm": 0.0}
    for start in range(0, steps, 50):
        sides = [("genlab", step_ours), ("torchcfm", step_theirs)]
        for name, fn in sides if (start // 50) % 2 == 0 else sides[::-1]:
            c0 = time.process_time()
            for i in range(start, min(start + 50, steps)):
                fn(i)
            spent[name] += time.process_time() - c0
    return {"theirs": theirs, "ours": ours, "seconds": spent}


def integrate_torchcfm(model: torch.nn.Module, z: torch.Tensor, solver: str, steps: int | None) -> tuple:
    """torchcfm's network integrated by torchdiffeq (its notebooks use torchdyn, absent here)."""
    nfe = 0

    def f(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        nonlocal nfe
        nfe += 1
        return model(torch.cat([x, t.expand(len(x), 1)], -1))

    if solver == "dopri5":
        x = odeint(f, z, torch.tensor([0.0, 1.0]), method="dopri5", atol=1e-4, rtol=1e-4)[-1]
    else:
        x = odeint(f, z, torch.linspace(0, 1, steps + 1), method="euler")[-1]
    return x, nfe


@torch.no_grad()
def evaluate(model_t: torch.nn.Module, model_o: CFM, seed: int) -> dict:
    g = torch.Generator().manual_seed(10_000 + seed)
    z = sample_8gaussians(N_EVAL, g)
    target = sample_moons(N_EVAL, np.random.default_rng(10_000 + seed))
    out = {}
    for key, (solver, steps) in EVALS.items():
        x_t, nfe_t = integrate_torchcfm(model_t, z, solver, steps)
        model_o.source = Queue([z])
        x_o, nfe_o = model_o.sample_with_nfe(N_EVAL, solver=solver, steps=steps or 1)
        out[key] = {"torchcfm": {"w2": wasserstein2(x_t, target)["w2"], "nfe": nfe_t},
                    "genlab": {"w2": wasserstein2(x_o, target)["w2"], "nfe": nfe_o}}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--methods", default="icfm,otcfm", help="comma-separated: icfm, otcfm")
    ap.add_argument("--timing-only", action="store_true", help="time the training steps; no W2 table")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    results: dict = {"steps": args.steps, "batch": BATCH, "sigma": SIGMA, "lr": LR, "seeds": seeds,
                     "n_eval": N_EVAL, "threads": args.threads, "methods": {}}
    methods = args.methods.split(",")
    if not set(methods) <= {"icfm", "otcfm"}:
        ap.error(f"--methods takes icfm and/or otcfm, got {args.methods}")
    for method in methods:
        per_seed = []
        for seed in seeds:
            trained = train_pair(method, seed, args.steps)
            scores = {} if args.timing_only else evaluate(trained["theirs"], trained["ours"], seed)
            per_seed.append({"seed": seed, "step_seconds": trained["seconds"], **scores})
        results["methods"][method] = per_seed

    print(f"8 Gaussians -> moons, {args.steps} steps, batch {BATCH}, sigma {SIGMA}, seeds {seeds}, "
          f"{args.threads} thread(s); W2 to 2000 fresh moons (mean ± sd over seeds), NFE in brackets")
    print(f"{'method':7} {'eval':9} {'torchcfm':>22} {'genlab':>22}")
    for method, rows in results["methods"].items():
        for key in EVALS if not args.timing_only else ():
            cells = []
            for lib in ("torchcfm", "genlab"):
                vals = [r[key][lib]["w2"] for r in rows]
                nfes = [r[key][lib]["nfe"] for r in rows]
                sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
                cells.append(f"{statistics.mean(vals):.3f} ± {sd:.3f} [{statistics.mean(nfes):.0f}]")
            print(f"{method:7} {key:9} {cells[0]:>22} {cells[1]:>22}")
        ratios = [r["step_seconds"]["genlab"] / r["step_seconds"]["torchcfm"] for r in rows]
        ms = {lib: statistics.mean(r["step_seconds"][lib] for r in rows) / args.steps * 1e3
              for lib in ("torchcfm", "genlab")}
        results[f"{method}_step_ratio_median"] = statistics.median(ratios)
        results[f"{method}_step_ms"] = ms
        per_seed = ", ".join(f"{r:.2f}" for r in ratios)
        print(f"{method:7} step time: torchcfm {ms['torchcfm']:.2f} ms, genlab {ms['genlab']:.2f} ms, "
              f"genlab/torchcfm {statistics.median(ratios):.2f} (per seed {per_seed})")
    out = OUT.with_name("torchcfm_peer_timing.json") if args.timing_only else OUT
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
