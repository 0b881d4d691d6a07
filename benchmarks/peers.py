"""genlab against its peer libraries, every comparison in one process with interleaved rounds.

Each comparison runs genlab and the peer on the same nets (weights copied), data and sample counts,
first checks that the two sides agree numerically, then times both in alternation: round r times
every comparison's genlab side and peer side before round r + 1 starts, so machine load shifts hit
all alike. The table gives the median seconds per call and the genlab/peer ratio, with the load
average; JSON goes to benchmarks/results/peers.json.

    python benchmarks/peers.py [--quick] [--rounds 5] [--threads 1] [--only fd,kid,...]

Comparisons (peers come from the optional `bench` extra, `pip install genlab[bench]`):
  fd       Fréchet distance of two (N, 128) float32 feature sets vs torchmetrics' FID maths
  kid      KID, 100 subsets of 1000 (float32 features), vs torchmetrics' KernelInceptionDistance
  prdc     precision/recall/density/coverage vs the `prdc` package (k = 5 for all four)
  glow     one Adam step of a one-level Glow vs normflows with copied weights
  trainer  genlab's Trainer vs a hand-written loop (toy GAN, MLP VAE; benchmarks/trainer_overhead.py)
Not yet here: VAE importance-sampled NLL vs pythae and RealNVP/NICE vs zuko (weights to be mapped).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))  # the sibling benchmark scripts

OUT = Path(__file__).parent / "results" / "peers.json"


@dataclass
class Comparison:
    """Two callables timed in alternation; `agreement` (max abs or relative difference) and
    `tolerance` say whether they compute the same thing; `unit` names what one call does."""

    name: str
    ours: Callable[[], object]
    theirs: Callable[[], object]
    agreement: float
    tolerance: float
    unit: str
    times: dict[str, list[float]] = field(default_factory=lambda: {"genlab": [], "peer": []})


def timed(fn: Callable[[], object], repeat: int = 1) -> float:
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - t0) / repeat


def features(n: int, d: int, seed: int, shift: float = 0.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g) * (1 + shift) + shift


# ---------------------------------------------------------------------- metrics
def fd_comparison(n: int) -> Comparison:
    from torchmetrics.image.fid import _compute_fid

    from genlab.eval.metrics.frechet import frechet_distance_features

    x, y = features(n, 128, 0), features(n, 128, 1, 0.1)

    def theirs() -> float:  # torchmetrics' FID.update/compute on float64 sums, without the extractor
        out = []
        for f in (x, y):
            f = f.double()
            s, ss = f.sum(0), f.T @ f
            mu = s / n
            out.append((mu, (ss - n * torch.outer(mu, mu)) / (n - 1)))
        return float(_compute_fid(out[0][0], out[0][1], out[1][0], out[1][1]))

    def ours() -> float:
        return frechet_distance_features(x, y)

    a, b = ours(), theirs()
    return Comparison("fd", ours, theirs, abs(a - b) / abs(b), 1e-6, f"FD of {n} vs {n} x 128-d")


def kid_comparison(n: int, subsets: int) -> Comparison:
    from torchmetrics.image.kid import KernelInceptionDistance, poly_mmd

    from genlab.eval.metrics.kid import kernel_distance, polynomial_mmd2

    x, y = features(n, 128, 2), features(n, 128, 3, 0.1)

    class Identity(torch.nn.Module):
        num_features = 128

        def forward(self, v: torch.Tensor) -> torch.Tensor:
            return v

    def theirs() -> float:
        tm = KernelInceptionDistance(feature=Identity(), subsets=subsets, subset_size=min(1000, n // 2),
                                     normalize=True)
        tm.update(x, real=True)
        tm.update(y, real=False)
        return float(tm.compute()[0])

    def ours() -> float:
        return kernel_distance(x, y, subsets=subsets, subset_size=1000)["kid"]

    # agreement on identical subsets: one full-set unbiased estimate each (the subset draws differ)
    a, b = polynomial_mmd2(x[:1000], y[:1000]), float(poly_mmd(x[:1000], y[:1000]))
    return Comparison("kid", ours, theirs, abs(a - b) / abs(b), 1e-4,
                      f"KID {subsets} subsets of {min(1000, n // 2)} from {n} x 128-d")


def prdc_comparison(n: int) -> Comparison:
    from prdc import compute_prdc

    from genlab.eval.metrics.prdc import prdc

    x, y = features(n, 64, 4), features(n, 64, 5, 0.1)

    def theirs() -> dict:
        with contextlib.redirect_stdout(io.StringIO()):  # prdc prints the set sizes
            return compute_prdc(x.numpy(), y.numpy(), nearest_k=5)

    def ours() -> dict:
        return prdc(x, y, k_pr=5, k_dc=5)

    a, b = ours(), theirs()
    diff = max(abs(a[k] - float(b[k])) for k in ("precision", "recall", "density", "coverage"))
    return Comparison("prdc", ours, theirs, diff, 1e-6, f"PRDC k=5 of {n} vs {n} x 64-d")


# ---------------------------------------------------------------------- models
def glow_comparison(size: int, steps: int, hidden: int, batch: int) -> Comparison:
    from flows import normflows_twin

    from genlab.models import MODELS

    torch.manual_seed(0)
    cls = MODELS.get("glow")
    model = cls(cls.Config(hidden=hidden, levels=1, steps=steps, scale="sigmoid"), (1, size, size))
    x = torch.rand(batch, 1, size, size)
    model.train()
    model.log_likelihood(x)  # ActNorm data-dependent init
    with torch.no_grad():  # away from the identity-like init, so the agreement check means something
        for p in model.parameters():
            p.add_(0.02 * torch.randn_like(p))
    twin = normflows_twin(model)
    model.eval()
    twin.eval()
    with torch.no_grad():
        diff = float((model.log_likelihood(x).double() - twin.log_prob(x, None).double()).abs().max())
    model.train()
    twin.train()
    dims = x[0].numel()

    def stepper(loss_fn: Callable[[], torch.Tensor], params: list) -> Callable[[], None]:
        opt = torch.optim.Adam(params, 1e-5)

        def step() -> None:
            opt.zero_grad(set_to_none=True)
            loss_fn().backward()
            opt.step()

        return step

    ours = stepper(lambda: -model.log_likelihood(x).mean() / dims, list(model.parameters()))
    theirs = stepper(lambda: -twin.log_prob(x, None).mean() / dims, list(twin.parameters()))
    return Comparison("glow", ours, theirs, diff, 1e-3,
                      f"Adam step, Glow L=1 K={steps} hidden={hidden}, 1x{size}x{size}, batch {batch}")


def trainer_comparisons(steps: int) -> list[Comparison]:
    from trainer_overhead import CASES, bare_loop, config, genlab_trainer

    out = []
    window = steps // 4
    for name in ("gan-mlp toy 2-D", "vae-mlp digits 8x8"):
        model, make_data, batch = CASES[name]
        dataset = make_data()
        cfg = config(model, batch, steps, window)
        # Same model, data, optimizer and seed on both sides; the bare loop has no logging, so the
        # agreement checked is the first-step loss of both sides from the same weights.
        comp = Comparison(f"trainer {name}", lambda c=cfg, d=dataset: genlab_trainer(c, d, steps),
                          lambda c=cfg, d=dataset: bare_loop(c, d, steps, window), 0.0, 0.0,
                          f"s per step, {steps} steps, batch {batch}")
        out.append(comp)
    return out


# ---------------------------------------------------------------------- driver
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes and 3 rounds (~2 min)")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--only", default="fd,kid,prdc,glow,trainer")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    rounds = args.rounds or (3 if args.quick else 5)
    q = args.quick
    only = set(args.only.split(","))
    builders: dict[str, Callable[[], list[Comparison]]] = {
        "fd": lambda: [fd_comparison(2000 if q else 10_000)],
        "kid": lambda: [kid_comparison(2000 if q else 10_000, 10 if q else 100)],
        "prdc": lambda: [prdc_comparison(1000 if q else 5000)],
        "glow": lambda: [glow_comparison(16, 2 if q else 4, 32 if q else 64, 32 if q else 64)],
        "trainer": lambda: trainer_comparisons(200 if q else 400),
    }
    comps: list[Comparison] = []
    skipped: dict[str, str] = {}
    for name in [n for n in builders if n in only]:
        try:
            comps.extend(builders[name]())
        except ImportError as err:  # a peer outside the `bench` extra's installed part
            skipped[name] = f"peer not installed ({err.name}); pip install genlab[bench]"
    for c in comps:  # warm-up
        c.ours()
        c.theirs()
    for _ in range(rounds):
        for c in comps:
            for side, fn in (("genlab", c.ours), ("peer", c.theirs)):
                if c.name.startswith("trainer"):  # these return their own per-step times
                    c.times[side].append(statistics.median(fn()))  # type: ignore[arg-type]
                else:
                    c.times[side].append(timed(fn))
    load = os.getloadavg()
    print(f"genlab vs peers: {rounds} interleaved rounds, median seconds, {args.threads} CPU thread(s), "
          f"torch {torch.__version__}, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"{'comparison':30s} {'genlab s':>10s} {'peer s':>10s} {'ratio':>6s} {'agree':>9s}  what")
    rows, ok = [], True
    for c in comps:
        g, p = statistics.median(c.times["genlab"]), statistics.median(c.times["peer"])
        agrees = c.agreement <= c.tolerance
        ok &= agrees
        print(f"{c.name:30s} {g:10.4f} {p:10.4f} {g / p:6.3f} {c.agreement:9.1e}  {c.unit}")
        rows.append({"name": c.name, "genlab_s": g, "peer_s": p, "ratio_genlab_over_peer": g / p,
                     "agreement": c.agreement, "tolerance": c.tolerance, "agrees": agrees, "unit": c.unit,
                     "rounds": c.times})
    for name, why in skipped.items():
        print(f"{name:30s} skipped: {why}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"load_average": load, "threads": args.threads, "rounds": rounds,
                               "torch": torch.__version__, "rows": rows,
                               "skipped": skipped}, indent=1) + "\n")
    print(f"wrote {out}")
    if not ok:
        print("DISAGREEMENT: a genlab value differs from its peer's beyond tolerance", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
