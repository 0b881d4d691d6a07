"""genlab against its peer libraries, every comparison in one process with interleaved rounds.

Each comparison runs genlab and the peer on the same nets (weights copied or shared), data and
sample counts, first checks that the two sides agree numerically, then times both in alternation:
round r times every comparison's two sides (which side goes first alternates) before round r + 1
starts, so machine load shifts hit all alike. Times are CPU seconds of this process (one thread:
equal to the wall time on an idle machine, but not inflated by other processes sharing the core).
The table gives the median per call, the genlab/peer ratio with the range of the per-round ratios,
the agreement and the load average; JSON goes to benchmarks/results/peers.json.

    python benchmarks/peers.py [--quick] [--rounds 5] [--threads 1] [--only fd,kid,...]

Comparisons (peers come from the optional `bench` extra, `pip install genlab[bench]`):
  fd       Fréchet distance of two (N, 128) float32 feature sets vs torchmetrics' FID maths
  kid      KID, 100 subsets of 1000 (float32 features), vs torchmetrics' KernelInceptionDistance
  prdc     precision/recall/density/coverage vs the `prdc` package (k = 5 for all four)
  vae      importance-sampled log-likelihood of an MLP VAE vs pythae's `get_nll`, equal K, the
           same encoder/decoder modules inside both; agreement: same seed, one example at a time
  glow     one Adam step of a one-level Glow vs normflows with copied weights
  flows    one Adam step of a vector RealNVP (no ActNorm) and NICE vs zuko twins with copied
           weights and genlab's coupling maps (zuko's own affine map bounds the scale differently)
  trainer  genlab's Trainer vs a hand-written loop with torch's default Adam (toy GAN, MLP VAE;
           benchmarks/trainer_overhead.py has the full comparison)
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
PEERS = {"torchmetrics", "prdc", "pythae", "zuko", "normflows", "scipy"}  # the `bench` extra


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
    """CPU seconds per call (the process's CPU time: with one thread, the wall time of an idle
    machine, without the time other processes take the core away)."""
    t0 = time.process_time()
    for _ in range(repeat):
        fn()
    return (time.process_time() - t0) / repeat


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
def adam_stepper(loss_fn: Callable[[], torch.Tensor], params: list) -> Callable[[], None]:
    """One Adam step on `loss_fn` per call: the unit both sides of a training-step comparison time."""
    opt = torch.optim.Adam(params, 1e-5)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss_fn().backward()
        opt.step()

    return step


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

    ours = adam_stepper(lambda: -model.log_likelihood(x).mean() / dims, list(model.parameters()))
    theirs = adam_stepper(lambda: -twin.log_prob(x, None).mean() / dims, list(twin.parameters()))
    return Comparison("glow", ours, theirs, diff, 1e-3,
                      f"Adam step, Glow L=1 K={steps} hidden={hidden}, 1x{size}x{size}, batch {batch}")


def vae_is_comparison(n: int, k: int) -> Comparison:
    """Importance-sampled log-likelihood of one MLP VAE (Bernoulli decoder), genlab's batched
    estimator vs pythae's `get_nll` (a loop over examples), equal K, the same modules inside both."""
    from pythae.models import VAE as PythaeVAE
    from pythae.models import VAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder

    from genlab.config import DataConfig
    from genlab.data import load_dataset
    from genlab.distributions.importance_sampling import importance_sampled_log_likelihood
    from genlab.models import MODELS

    torch.manual_seed(0)
    cls = MODELS.get("vae")
    model = cls(cls.Config(latent_dim=16, hidden=256, depth=2, decoder="bernoulli"), (1, 8, 8)).eval()
    with torch.no_grad():  # away from the init, so the posterior is not the prior
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    x = load_dataset(DataConfig(name="digits")).train[:n].float() / 16

    class Encoder(BaseEncoder):  # genlab's encoder; pythae wants log-variances
        def forward(self, v: torch.Tensor) -> ModelOutput:
            mean, log_std = model.encode(v)
            return ModelOutput(embedding=mean, log_covariance=2 * log_std)

    class Decoder(BaseDecoder):  # genlab's decoder; pythae's "bce" wants probabilities
        def forward(self, z: torch.Tensor) -> ModelOutput:
            return ModelOutput(reconstruction=torch.sigmoid(model.decode(z)))

    twin = PythaeVAE(VAEConfig(input_dim=(1, 8, 8), latent_dim=16, reconstruction_loss="bce"),
                     encoder=Encoder(), decoder=Decoder()).eval()

    @torch.no_grad()
    def ours() -> float:
        return float(importance_sampled_log_likelihood(model.log_weights, x, k).mean())

    @torch.no_grad()
    def theirs() -> float:  # pythae returns the mean log-likelihood (its name notwithstanding)
        return float(twin.get_nll(x, n_samples=k, batch_size=k))

    # Same seed, one example at a time: both draw the same K x 16 normal variates, so the two
    # estimates differ only by floating-point rounding (and pythae's log clamp at -100 in BCE).
    diffs = []
    with torch.no_grad():
        for i in range(4):
            torch.manual_seed(i)
            a = float(importance_sampled_log_likelihood(model.log_weights, x[i:i + 1], k, chunk=k))
            torch.manual_seed(i)
            b = float(twin.get_nll(x[i:i + 1], n_samples=k, batch_size=k))
            diffs.append(abs(a - b) / abs(b))
    return Comparison("vae IS log-lik vs pythae", ours, theirs, max(diffs), 1e-5,
                      f"IS log p(x), K={k}, {n} digits, MLP VAE 256x2, z 16 (no_grad)")


def zuko_twin(model):
    """A zuko flow computing exactly the function of a genlab vector NICE, or RealNVP without
    ActNorm: the same parity masks and MLPs (weights copied: both see only the kept coordinates and
    predict the changed ones' parameters), genlab's coupling maps as zuko univariate transforms
    (zuko's own affine map bounds the log-scale differently), NICE's scaling layer, N(0, I) prior."""
    import zuko
    from torch.distributions import Transform, constraints

    from genlab.models.flow.coupling import AdditiveCoupling, AffineCoupling, ScaleLayer

    class ShiftScale(Transform):  # y = (x + shift) exp(log_scale); either part may be absent
        domain = codomain = constraints.real
        bijective, sign = True, +1

        def __init__(self, shift: torch.Tensor | None = None, log_scale: torch.Tensor | None = None, **kw):
            super().__init__(**kw)
            self.shift, self.log_scale = shift, log_scale

        def _call(self, v):
            v = v if self.shift is None else v + self.shift
            return v if self.log_scale is None else v * self.log_scale.exp()

        def _inverse(self, y):
            y = y if self.log_scale is None else y * (-self.log_scale).exp()
            return y if self.shift is None else y - self.shift

        def log_abs_det_jacobian(self, v, y):
            return torch.zeros_like(v) if self.log_scale is None else self.log_scale.expand(v.shape)

    def shift(t):  # NICE's additive coupling map
        return ShiftScale(t)

    def scale(log_scale):  # NICE's diagonal scaling layer, one log-scale per coordinate
        return zuko.transforms.DependentTransform(ShiftScale(log_scale=log_scale), 1)

    def tanh_affine(clamp: float):  # genlab's affine coupling map y = (x + t) exp(c tanh(h / c))
        return lambda t, h: ShiftScale(t, clamp * torch.tanh(h / clamp))

    (d,) = model.flow_shape
    transforms = []
    for layer in model.flow.stages[0].layers:
        if isinstance(layer, ScaleLayer):
            transforms.append(zuko.flows.UnconditionalTransform(scale, layer.log_scale.detach().clone()))
            continue
        if not isinstance(layer, AffineCoupling):
            raise ValueError(f"no zuko twin for {type(layer).__name__} (build RealNVP with actnorm=false)")
        kept = layer.mask.bool()
        additive = isinstance(layer, AdditiveCoupling)
        univariate = shift if additive else tanh_affine(layer.clamp)
        linears = [m for m in layer.net if isinstance(m, torch.nn.Linear)]
        t = zuko.flows.GeneralCouplingTransform(d, mask=kept, univariate=univariate,
                                                shapes=((),) if additive else ((), ()),
                                                hidden_features=[lin.out_features for lin in linears[:-1]])
        dst = [m for m in t.hyper if hasattr(m, "weight")]  # zuko's own Linear class
        assert len(dst) == len(linears)
        with torch.no_grad():  # both nets read the kept coordinates and give the changed ones' parameters
            for src, out in zip(linears, dst):
                out.weight.copy_(src.weight)
                out.bias.copy_(src.bias)
        transforms.append(t)
    base = zuko.flows.UnconditionalDistribution(zuko.distributions.DiagNormal, torch.zeros(d), torch.ones(d),
                                                buffer=True)
    return zuko.flows.Flow(transforms, base)


def zuko_comparison(name: str, d: int, hidden: int, batch: int) -> Comparison:
    """One Adam step of a vector NICE / RealNVP (no ActNorm), genlab vs its zuko twin."""
    from genlab.models import MODELS

    torch.manual_seed(0)
    cls = MODELS.get(name)
    extra = {"actnorm": False} if name == "realnvp" else {}
    model = cls(cls.Config(hidden=hidden, depth=2, **extra), (d,))
    with torch.no_grad():  # zero-initialised output layers: move off the identity first
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    twin = zuko_twin(model)
    x = torch.randn(batch, d)
    with torch.no_grad():
        diff = float((model.log_likelihood(x).double() - twin().log_prob(x).double()).abs().max())

    ours = adam_stepper(lambda: -model.log_likelihood(x).mean(), list(model.parameters()))
    theirs = adam_stepper(lambda: -twin().log_prob(x).mean(), list(twin.parameters()))
    layers = len(model.flow.stages[0].layers)
    return Comparison(f"{name} vs zuko", ours, theirs, diff, 1e-3,
                      f"Adam step, {layers} layers, MLP {hidden}x2, {d}-d, batch {batch}")


def trainer_comparisons(steps: int) -> list[Comparison]:
    """genlab's Trainer vs the bare loop of benchmarks/trainer_overhead.py (torch's default Adam),
    both timed per window with the process's CPU clock."""
    from trainer_overhead import CASES, bare_loop, config, genlab_trainer

    out = []
    window = steps // 4
    for name in ("gan-ns toy 2-D", "vae-mlp digits 8x8"):
        model, make_data, batch = CASES[name]
        dataset = make_data()
        cfg = config(model, batch, steps, window)
        # Same model, data, optimizer and seed on both sides; what is compared is time, not values
        # (the trainer's exactness is covered by tests/train).
        comp = Comparison(f"trainer {name}", lambda c=cfg, d=dataset: genlab_trainer(c, d, steps, window),
                          lambda c=cfg, d=dataset: bare_loop(c, d, steps, window), 0.0, 0.0,
                          f"CPU s per step, {steps} steps, batch {batch}, vs bare loop (torch default Adam)")
        out.append(comp)
    return out


# ---------------------------------------------------------------------- driver
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes and 3 rounds (~2 min)")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--only", default="fd,kid,prdc,vae,glow,flows,trainer")
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
        "vae": lambda: [vae_is_comparison(20 if q else 100, 200 if q else 1000)],
        "glow": lambda: [glow_comparison(16, 2 if q else 4, 32 if q else 64, 32 if q else 64)],
        "flows": lambda: [zuko_comparison("realnvp", 64, 64 if q else 256, 64 if q else 256),
                          zuko_comparison("nice", 64, 64 if q else 256, 64 if q else 256)],
        "trainer": lambda: trainer_comparisons(200 if q else 400),
    }
    comps: list[Comparison] = []
    skipped: dict[str, str] = {}
    for name in [n for n in builders if n in only]:
        try:
            comps.extend(builders[name]())
        except ImportError as err:  # a peer outside the `bench` extra's installed part
            if err.name is None or err.name.split(".")[0] not in PEERS:
                raise  # a broken import in genlab or a benchmark script is an error, not a skip
            skipped[name] = f"peer not installed ({err.name}); pip install genlab[bench]"
    t_start, load0 = time.perf_counter(), os.getloadavg()
    for c in comps:  # warm-up
        c.ours()
        c.theirs()
    for r in range(rounds):
        for c in comps:
            sides = [("genlab", c.ours), ("peer", c.theirs)]
            for side, fn in sides if r % 2 == 0 else sides[::-1]:  # alternate which side goes first
                if c.name.startswith("trainer"):  # these return their own per-step times
                    c.times[side].append(statistics.median(fn()))  # type: ignore[arg-type]
                else:
                    c.times[side].append(timed(fn))
    load = os.getloadavg()
    print(f"genlab vs peers: {rounds} interleaved rounds, median CPU seconds per call, {args.threads} "
          f"thread(s), torch {torch.__version__}, load average {load0[0]:.2f} at start, "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at end, {time.perf_counter() - t_start:.1f} s in the "
          f"timed rounds (setup and checks not counted)")
    print("| comparison | genlab s | peer s | genlab/peer [range over rounds] | max difference (tol.) "
          "| what |")
    print("|---|---:|---:|---:|---:|---|")
    rows, ok = [], True
    for c in comps:
        g, p = statistics.median(c.times["genlab"]), statistics.median(c.times["peer"])
        per_round = [a / b for a, b in zip(c.times["genlab"], c.times["peer"])]
        agrees = c.agreement <= c.tolerance
        ok &= agrees
        check = "n/a (time only)" if c.tolerance == 0 and c.agreement == 0 else \
            f"{c.agreement:.1e} ({c.tolerance:.0e})"
        print(f"| {c.name} | {g:.4f} | {p:.4f} | {g / p:.3f} [{min(per_round):.3f}, {max(per_round):.3f}] | "
              f"{check} | {c.unit} |")
        rows.append({"name": c.name, "genlab_s": g, "peer_s": p, "ratio_genlab_over_peer": g / p,
                     "ratio_range": [min(per_round), max(per_round)],
                     "agreement": c.agreement, "tolerance": c.tolerance, "agrees": agrees, "unit": c.unit,
                     "rounds": c.times})
    for name, why in skipped.items():
        print(f"{name:30s} skipped: {why}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"load_average_start": load0, "load_average": load, "threads": args.threads,
                               "rounds": rounds, "torch": torch.__version__, "rows": rows,
                               "skipped": skipped}, indent=1) + "\n")
    print(f"wrote {out}")
    if not ok:
        print("DISAGREEMENT: a genlab value differs from its peer's beyond tolerance", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
