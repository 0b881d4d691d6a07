"""One trainer for every family. It knows the `GenerativeModel` protocol and nothing else.

Per step: take a batch, turn stored values into model inputs, split it into `grad_accum`
micro-batches and drive the model's `train_step` generators in lockstep. Each yielded `Update` is
backpropagated on every micro-batch, gradients are averaged over processes, clipped and applied to
that update's parameter groups (then their EMAs) before the generators resume.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from genlab.config import Config
from genlab.core.errors import ConfigError, NonFiniteLossError, TrainingInterrupted
from genlab.data import BatchStream, Dataset, load_dataset, pixels_for
from genlab.models import GenerativeModel, StepContext, Update, build_model
from genlab.optim import build_optimizer, build_scheduler, flat_params
from genlab.train.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from genlab.train.distributed import DistEnv
from genlab.train.ema import EMA
from genlab.train.rng import isolated_rng, rng_state, set_rng_state
from genlab.train.runlog import MetricsLog, Progress, read_metrics
from genlab.train.signals import StopRequests

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        name = f"cuda:{local_rank}"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"train.device={name} but no CUDA device is available; use auto or cpu")
    try:
        return torch.device(name)
    except RuntimeError:
        raise ConfigError(f"bad train.device {name!r}; use auto, cpu, cuda or cuda:N") from None


class Trainer:
    """Trains `cfg`'s model on `cfg`'s data, writing everything under `run_dir`.

    `run_dir` receives config.yaml, metrics.jsonl, checkpoints/, samples/ and loss.png.
    With `resume=True` the run continues from its latest checkpoint exactly: model, optimizers,
    schedules, EMA, data position and random state are all restored.
    """

    def __init__(self, cfg: Config, run_dir: str | Path, resume: bool = False,
                 dataset: Dataset | None = None):
        self.cfg, self.run_dir = cfg, Path(run_dir)
        t = cfg.train
        if t.grad_accum < 1 or cfg.data.batch_size % t.grad_accum:
            raise ConfigError("train.grad_accum must be >= 1 and divide data.batch_size")
        if t.log_every < 1:
            raise ConfigError("train.log_every must be >= 1")
        if t.precision not in PRECISIONS:
            raise ConfigError(f"unknown train.precision {t.precision!r}; choose fp32, bf16 or fp16")
        probe = resolve_device(t.device)
        self.dist = DistEnv.from_env(probe.type)
        self.device = resolve_device(t.device, self.dist.local_rank)
        self.amp_dtype = PRECISIONS[t.precision] if self.device.type == "cuda" else None
        if t.precision != "fp32" and self.amp_dtype is None and self.dist.is_main:
            print(f"genlab: train.precision={t.precision} is CUDA-only; training in fp32 on CPU")

        self.dataset = dataset if dataset is not None else load_dataset(cfg.data, seed=t.seed)
        self.pixels = pixels_for(self.dataset, cfg.data)
        torch.manual_seed(t.seed)  # identical initial weights on every rank
        self.model: GenerativeModel = build_model(cfg.model.name, cfg.model.params,
                                                  self.dataset.shape).to(self.device)
        self.dist.broadcast_module(self.model)
        # The training random stream (noise, dequantization) differs per rank, not across runs.
        torch.manual_seed(t.seed + 1_000_003 * (self.dist.rank + 1))
        param_sets = self.model.param_groups()  # per group: Parameters or parameter-set dicts
        self.groups = {g: flat_params(v) for g, v in param_sets.items()}
        unknown = set(cfg.optim) - set(self.groups) - {"default"}
        if unknown:
            raise ConfigError(
                f"optim.{sorted(unknown)[0]}: model {cfg.model.name} has parameter groups "
                f"{', '.join(self.groups)}"
            )
        self.optimizers = {g: build_optimizer(ps, cfg.optim_for(g)) for g, ps in param_sets.items()}
        self.schedulers = {g: s for g in self.groups
                           if (s := build_scheduler(self.optimizers[g], cfg.optim_for(g), t.steps))}
        self.emas = {g: EMA(ps, cfg.optim_for(g).ema) for g, ps in self.groups.items()
                     if cfg.optim_for(g).ema}
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None
        self.stream = BatchStream(self.dataset.train.to(self.device), cfg.data.batch_size,
                                  seed=t.seed, rank=self.dist.rank, world=self.dist.world)
        self.step = 0
        self.last_checkpoint: Path | None = None
        if resume:
            self._resume()

        self.log: MetricsLog | None = None
        if self.dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / "config.yaml").write_text(cfg.to_yaml())
            self.log = MetricsLog(self.run_dir, t.tensorboard)
        self._reset_window()

    # ------------------------------------------------------------------ main loop
    def fit(self) -> dict[str, Any]:
        """Train until cfg.train.steps; returns the last logged record.

        SIGINT/SIGTERM stop at the next step boundary with a checkpoint (`TrainingInterrupted`).
        """
        t = self.cfg.train
        progress = Progress(t.steps, t.progress and self.dist.is_main)
        self.model.train()
        last: dict[str, Any] = {}
        try:
            with StopRequests() as stop:
                while self.step < t.steps:
                    self._train_step()
                    self.step += 1
                    s, end = self.step, self.step == t.steps
                    if s % t.log_every == 0 or end:
                        last = self._flush()
                        progress.update(s, {k: v for k, v in last.items()
                                            if k != "step" and not k.startswith(("lr/", "steps_"))})
                    # Every rank learns of a signal any rank got, so all stop at this same step.
                    signum = self.dist.max_over_ranks(stop.signum)
                    if signum:
                        self._flush()  # refuses to save diverged weights
                        path = self.save()
                        raise TrainingInterrupted(self.step, signum, str(path) if path else None)
                    if (t.ckpt_every and s % t.ckpt_every == 0) or end:
                        self._flush()
                        self.save()
                    if (t.sample_every and s % t.sample_every == 0) or end:
                        self.write_samples()
                    if t.eval_every and s % t.eval_every == 0:
                        self.run_evaluation()
        except KeyboardInterrupt as err:
            if not isinstance(err, TrainingInterrupted) and self.dist.is_main:
                print(f"\ngenlab: forced stop during step {self.step + 1}; last checkpoint kept: "
                      f"{self.last_checkpoint}")
            raise
        finally:
            progress.close()
        if self.dist.is_main:
            from genlab.viz import plot_losses
            plot_losses(read_metrics(self.run_dir / "metrics.jsonl"), self.run_dir / "loss.png")
            self.log.close()
        return last

    def close(self) -> None:
        """Release what the trainer holds across processes (the process group genlab created)."""
        self.dist.close()

    def __enter__(self) -> Trainer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _train_step(self) -> None:
        x = next(self.stream)
        if self.pixels is not None:
            x = self.pixels(x)
        accum = self.cfg.train.grad_accum
        micro = x.chunk(accum) if accum > 1 else (x,)
        ctx = StepContext(self.step)
        steps = [self.model.train_step(m, ctx) for m in micro]
        while True:
            with self._autocast():
                updates = [next(s, None) for s in steps]
            if updates[0] is None:
                break
            self._apply(updates)
        for sched in self.schedulers.values():
            sched.step()

    def _apply(self, updates: list[Update]) -> None:
        groups = updates[0].groups
        if any(u is None or u.groups != groups for u in updates):
            raise RuntimeError("micro-batches yielded different updates; train_step must not "
                               "branch on the data")
        self.model.zero_grad(set_to_none=True)
        for u in updates:
            loss = u.loss / len(updates)
            (self.scaler.scale(loss) if self.scaler else loss).backward()
        for g in groups:
            params = self.groups[g]
            self.dist.average_gradients(params)
            opt, ocfg = self.optimizers[g], self.cfg.optim_for(g)
            if ocfg.grad_clip:
                if self.scaler:
                    self.scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_(params, ocfg.grad_clip)
            if self.scaler:
                self.scaler.step(opt)
            else:
                opt.step()
            if g in self.emas:
                self.emas[g].update()
        if self.scaler:
            self.scaler.update()
        # Bookkeeping stays on the device: no host sync per step.
        i = self.step - self._window_start
        self._loss_trace[i] += sum(u.loss.detach().float() for u in updates) / len(updates)
        for u in updates:
            for k, v in u.logs.items():
                self._sums[k] = self._sums.get(k, 0.0) + v.detach().float() / len(updates)
                self._counts[k] = self._counts.get(k, 0) + 1 / len(updates)

    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    # ------------------------------------------------------------------ logging and guards
    def _reset_window(self) -> None:
        self._window_start = self.step
        # Windows end at least every log_every steps (see fit), so this holds every step's loss.
        self._loss_trace = torch.zeros(self.cfg.train.log_every + 1, device=self.device)
        self._sums: dict[str, Tensor] = {}
        self._counts: dict[str, float] = {}
        self._window_t0 = time.perf_counter()

    def _flush(self) -> dict[str, Any]:
        """Check the window's losses are finite, log their means, start a new window."""
        n = self.step - self._window_start
        if n == 0:
            return {}
        trace = self._loss_trace[:n].cpu()
        if self.dist.enabled:  # every rank must agree to stop
            flags = self.dist.gather(bool(torch.isfinite(trace).all()))
            finite = all(flags)
        else:
            finite = bool(torch.isfinite(trace).all())
        if not finite:
            bad = (~torch.isfinite(trace)).nonzero()
            first = self._window_start + (int(bad[0]) if len(bad) else 0)
            names = [k for k, v in self._sums.items() if not torch.isfinite(v)] or ["loss"]
            if self.log:
                self.log.write({"step": first + 1, "error": "non-finite loss", "losses": names})
            good = str(self.last_checkpoint) if self.last_checkpoint else None
            raise NonFiniteLossError(first + 1, names, good)
        elapsed = time.perf_counter() - self._window_t0
        record: dict[str, Any] = {"step": self.step, "steps_per_s": n / max(elapsed, 1e-9)}
        record.update({k: (v / self._counts[k]).item() for k, v in self._sums.items()})
        for g, opt in self.optimizers.items():
            record[f"lr/{g}"] = opt.param_groups[0]["lr"]
        if self.log:
            self.log.write(record)
        self._reset_window()
        return record

    # ------------------------------------------------------------------ samples and evaluation
    @contextlib.contextmanager
    def ema_weights(self):
        """Use every group's EMA weights inside the block (no-op for groups without EMA)."""
        with contextlib.ExitStack() as stack:
            for ema in self.emas.values():
                stack.enter_context(ema.applied())
            yield

    @torch.no_grad()
    def write_samples(self) -> Path | None:
        if not self.dist.is_main:
            return None
        from genlab.viz import save_samples

        with isolated_rng(self.cfg.eval.seed, self.device), self.ema_weights():
            self.model.eval()
            samples = self.model.sample(self.cfg.train.n_samples)
            self.model.train()
        path = self.run_dir / "samples" / f"step-{self.step:07d}.png"
        return save_samples(samples, path, self.dataset, self.pixels, f"step {self.step}")

    def run_evaluation(self) -> dict[str, Any]:
        if not self.dist.is_main:
            return {}
        from genlab.eval.evaluate import evaluate

        with isolated_rng(self.cfg.eval.seed, self.device), self.ema_weights():
            result = evaluate(self.model, self.dataset, self.pixels, self.cfg.eval, self.device)
        if self.log:
            flat = {f"eval/{k}": v for section in result.values() if isinstance(section, dict)
                    for k, v in section.items() if isinstance(v, (int, float))}
            self.log.write({"step": self.step, **flat})
        return result

    # ------------------------------------------------------------------ checkpoints
    def save(self) -> Path | None:
        rng = self.dist.gather(rng_state(self.device))  # collective: every rank calls it
        if not self.dist.is_main:
            return None
        state = {
            "step": self.step,
            "optimizers": {g: o.state_dict() for g, o in self.optimizers.items()},
            "schedulers": {g: s.state_dict() for g, s in self.schedulers.items()},
            "ema": {g: e.state_dict() for g, e in self.emas.items()},
            "scaler": self.scaler.state_dict() if self.scaler else {},
            "stream": self.stream.state_dict(),
            "rng": rng,
            "config": json.dumps(self.cfg.to_dict()),
        }
        self.last_checkpoint = save_checkpoint(self.run_dir / "checkpoints", self.step,
                                               self.model.state_dict(), state,
                                               self.cfg.train.keep_checkpoints)
        return self.last_checkpoint

    def _resume(self) -> None:
        path = latest_checkpoint(self.run_dir / "checkpoints")
        if path is None:
            raise ConfigError(f"nothing to resume: no checkpoint in {self.run_dir / 'checkpoints'}")
        weights, state = load_checkpoint(path, self.device)
        self.model.load_state_dict(weights)
        for g, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][g])
        for g, s in self.schedulers.items():
            s.load_state_dict(state["schedulers"][g])
        for g, e in self.emas.items():
            e.load_state_dict(state["ema"][g])
        if self.scaler and state["scaler"]:
            self.scaler.load_state_dict(state["scaler"])
        self.stream.load_state_dict(state["stream"])
        rng = state["rng"]
        set_rng_state(rng[self.dist.rank] if self.dist.rank < len(rng) else rng[0], self.device)
        self.step = int(state["step"])
        self.last_checkpoint = path


def load_model(run_dir: str | Path, device: str = "auto", use_ema: bool = True):
    """(model, cfg, dataset, pixels, checkpoint path) of a finished or running run, for eval."""
    from genlab.config import Config
    from genlab.core.errors import DataError

    run_dir = Path(run_dir)
    path = latest_checkpoint(run_dir / "checkpoints")
    if path is None:
        raise DataError(f"{run_dir} has no checkpoint (is it a genlab run folder?)")
    dev = resolve_device(device)
    weights, state = load_checkpoint(path, dev)
    cfg = Config.from_dict(json.loads(state["config"]))
    dataset = load_dataset(cfg.data, seed=cfg.train.seed)
    torch.manual_seed(cfg.train.seed)
    model = build_model(cfg.model.name, cfg.model.params, dataset.shape).to(dev)
    model.load_state_dict(weights)
    if use_ema:
        groups = {g: flat_params(v) for g, v in model.param_groups().items()}
        with torch.no_grad():
            for g, ema in state["ema"].items():
                for p, s in zip(groups[g], ema["shadow"]):
                    p.copy_(s)
    model.eval()
    return model, cfg, dataset, pixels_for(dataset, cfg.data), path


__all__ = ["Trainer", "load_model", "resolve_device"]
