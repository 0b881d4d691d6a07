"""Every optimizer wrapper (and Heun, damped dynamics, a composition) under 2-process torchrun
(gloo, DistributedDataParallel): both ranks end with identical parameters, the run equals one
process stepping on the two ranks' batches together, and save -> load -> continue equals the
uninterrupted run. One torchrun launch covers every optimizer."""

import subprocess

import pytest
import torch

from tests.optim.problems import FACTORIES, TinyModel, batch
from tests.train.test_distributed import ABORTED, ENV, ROOT, TORCHRUN, rank_logs

STEPS, SPLIT = 7, 4  # SPLIT is not a multiple of Lookahead's k: its counter must survive the reload

SCRIPT = """
import io, sys, torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP
from genlab.optim import Heun
from tests.optim.problems import FACTORIES, TinyModel, batch

STEPS, SPLIT = {steps}, {split}
dist.init_process_group("gloo")
rank = dist.get_rank()


def backward(ddp, opt, t):
    opt.zero_grad()
    tokens, target = batch(2 * t + rank)  # each rank its own batch; DDP averages the gradients
    loss = ((ddp(tokens) - target) ** 2).mean()
    loss.backward()
    return loss


def run(model, opt, sched, start, stop):
    ddp = DDP(model)
    for t in range(start, stop):
        if isinstance(opt, Heun):
            opt.step(lambda t=t: backward(ddp, opt, t))
        else:
            backward(ddp, opt, t)
            opt.step()
        sched.step()


def build(name, seed=0):
    model = TinyModel(seed)
    opt = FACTORIES[name](model)
    return model, opt, torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.7)


out = {{}}
try:
    for name in FACTORIES:
        model, opt, sched = build(name)
        run(model, opt, sched, 0, STEPS)
        straight = [p.detach().clone() for p in model.parameters()]

        model, opt, sched = build(name)
        run(model, opt, sched, 0, SPLIT)
        buf = io.BytesIO()
        torch.save({{"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()}}, buf)
        buf.seek(0)
        ckpt = torch.load(buf, weights_only=True)
        model, opt, sched = build(name, seed=123)  # other weights, overwritten by the checkpoint
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["opt"])
        sched.load_state_dict(ckpt["sched"])
        run(model, opt, sched, SPLIT, STEPS)
        out[name] = {{"straight": straight, "resumed": [p.detach().clone() for p in model.parameters()]}}
        print(f"rank {{rank}} done {{name}}", flush=True)
    torch.save(out, sys.argv[1] + f".rank{{rank}}.pt")
finally:
    dist.destroy_process_group()
"""


def single_process(name):
    """One process, both ranks' batches at once: the mean loss over 2 x 5 rows."""
    from genlab.optim import Heun

    model = TinyModel(0)
    opt = FACTORIES[name](model)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.7)

    def backward(t):
        opt.zero_grad()
        (a, ya), (b, yb) = batch(2 * t), batch(2 * t + 1)
        loss = ((model(torch.cat([a, b])) - torch.cat([ya, yb])) ** 2).mean()
        loss.backward()
        return loss

    for t in range(STEPS):
        if isinstance(opt, Heun):
            opt.step(lambda t=t: backward(t))
        else:
            backward(t)
            opt.step()
        sched.step()
    return [p.detach() for p in model.parameters()]


@pytest.mark.slow
def test_every_wrapper_under_torchrun_stays_in_sync_and_resumes(tmp_path):
    script, logs, out = tmp_path / "ddp_optim.py", tmp_path / "logs", tmp_path / "params"
    script.write_text(SCRIPT.format(steps=STEPS, split=SPLIT))
    proc = subprocess.run([*TORCHRUN, "--log-dir", str(logs), "--redirects", "3", str(script), str(out)],
                          env=ENV, cwd=ROOT, capture_output=True, text=True, timeout=240)
    workers = rank_logs(logs)
    detail = "\n".join(f"--- rank {r}:\n{text[-2000:]}" for r, text in sorted(workers.items()))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-2000:] + detail
    for rank, text in workers.items():
        tail = f"rank {rank}:\n{text[-3000:]}"
        assert not any(a in text for a in ABORTED) and "Traceback" not in text, tail
        assert all(f"rank {rank} done {name}" in text for name in FACTORIES), tail
    r0, r1 = (torch.load(f"{out}.rank{r}.pt", weights_only=True) for r in (0, 1))
    assert sorted(r0) == sorted(FACTORIES)
    for name in FACTORIES:
        for a, b, c, d in zip(r0[name]["straight"], r1[name]["straight"], r0[name]["resumed"],
                              r1[name]["resumed"]):
            assert torch.equal(a, b), f"{name}: ranks differ"
            assert torch.equal(c, d), f"{name}: resumed ranks differ"
            assert torch.equal(a, c), f"{name}: save -> load -> continue differs from uninterrupted"
        start = [p.detach() for p in TinyModel(0).parameters()]
        moved = any(not torch.equal(a, p0) for a, p0 in zip(r0[name]["straight"], start))
        assert moved, f"{name}: nothing trained"
        # DDP's averaged gradient is the gradient of the joint batch: same trajectory up to rounding
        for a, ref in zip(r0[name]["straight"], single_process(name)):
            assert torch.allclose(a, ref, rtol=1e-9, atol=1e-11), f"{name}: differs from one process"
