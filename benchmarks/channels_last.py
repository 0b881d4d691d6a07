"""channels_last vs contiguous (NCHW) on CPU: DCGAN training step, GAN sampling, Glow training step.

Same weights and inputs in both formats; checks the outputs agree to float tolerance, then times
both in interleaved rounds (median). Decides whether `train.channels_last` is worth turning on.

    python benchmarks/channels_last.py [--rounds 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time

import torch

from genlab.models import MODELS, StepContext


def gan() -> tuple[torch.nn.Module, torch.Tensor]:
    cls = MODELS.get("gan")
    cfg = cls.Config(net="dcgan", hidden=32, latent_dim=64, generator_norm="batch", output="tanh")
    return cls(cfg, (1, 28, 28)), torch.rand(64, 1, 28, 28) * 2 - 1


def glow() -> tuple[torch.nn.Module, torch.Tensor]:
    cls = MODELS.get("glow")
    model = cls(cls.Config(hidden=64, levels=2, steps=4), (1, 16, 16))
    x = torch.rand(64, 1, 16, 16)
    model.log_likelihood(x)  # ActNorm data-dependent init, before the copy
    return model, x


def train_step(model: torch.nn.Module, opts: dict, x: torch.Tensor) -> torch.Tensor:
    last = None
    for u in model.train_step({"x": x}, StepContext(0)):
        for g in u.groups:
            opts[g].zero_grad(set_to_none=True)
        u.loss.backward()
        for g in u.groups:
            opts[g].step()
        last = u.loss.detach()
    return last


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    load = os.getloadavg()
    print(f"channels_last / contiguous, {args.rounds} interleaved rounds x {args.steps} calls, "
          f"{args.threads} thread(s), torch {torch.__version__}, load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    for name, make in (("dcgan train step", gan), ("glow train step", glow), ("dcgan sample 256", gan)):
        torch.manual_seed(0)
        base, x = make()
        runs = {}
        for fmt in ("contiguous", "channels_last"):
            model = copy.deepcopy(base)
            xi = x
            if fmt == "channels_last":
                model = model.to(memory_format=torch.channels_last)
                xi = x.contiguous(memory_format=torch.channels_last)
            opts = {g: torch.optim.Adam(ps, 1e-4) for g, ps in model.param_groups().items()}
            if name.endswith("sample 256"):
                def call(m=model):
                    torch.manual_seed(1)
                    return m.sample(256)
            else:
                def call(m=model, o=opts, v=xi):
                    torch.manual_seed(1)
                    return train_step(m, o, v)
            runs[fmt] = call
        a, b = runs["contiguous"](), runs["channels_last"]()
        diff = float((a - b).abs().max())
        times = {k: [] for k in runs}
        for _ in range(args.rounds):
            for k, fn in runs.items():
                t0 = time.perf_counter()
                for _ in range(args.steps):
                    fn()
                times[k].append((time.perf_counter() - t0) / args.steps)
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"  {name:18s} contiguous {1e3 * med['contiguous']:8.2f} ms, channels_last "
              f"{1e3 * med['channels_last']:8.2f} ms, ratio {med['channels_last'] / med['contiguous']:.3f}, "
              f"max |diff| of first output {diff:.1e}")


if __name__ == "__main__":
    main()
