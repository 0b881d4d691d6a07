"""One trainer for every family. It knows the model contract (`genlab.core.protocol`) and nothing else.

Per step: take a batch (a mapping of tensors), turn stored pixel values into model inputs, split it
into `grad_accum` micro-batches and drive the model's `train_step` generators in lockstep. Each
yielded `Update` is backpropagated into its groups' parameters on every micro-batch, gradients
are averaged over processes, clipped and applied to that update's parameter groups (then their
EMAs) before the generators resume. After the last update, `model.on_step_end` runs once.
What happens beside training (sample grids, evaluations, plots) is done by hooks the caller
attaches, so this module imports neither evaluation nor plotting.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from genlab.config import Config
from genlab.core.checkpoint import (
    check_weights_fit,
    clean_checkpoints,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from genlab.core.checks import choice
from genlab.core.errors import ConfigError, NonFiniteLossError, TrainingInterrupted
from genlab.core.protocol import Batch, Model, StepContext, Update
from genlab.core.rng import rng_state, set_rng_state
from genlab.data import BatchStream, Dataset, load_dataset, pixels_for
from genlab.optim import build_optimizer, build_scheduler, flat_params, needs_closure
from genlab.train.build import build
from genlab.train.distributed import DistEnv
from genlab.train.ema import EMA
from genlab.train.runlock import RunLock
from genlab.train.runlog import MetricsLog, Progress, cut_metrics
from genlab.train.signals import StopRequests

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class Hook(Protocol):
    """Work done beside training on rank 0 (sample grids, evaluations, plots): `due(step, end)`
    says when, `__call__(trainer)` does it."""

    def due(self, step: int, end: bool) -> bool: ...

    def __call__(self, trainer: Trainer) -> None: ...


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


def split_batch(batch: Batch, parts: int) -> list[dict[str, Tensor]]:
    """A batch mapping cut into `parts` micro-batches along the first dimension."""
    if parts == 1:
        return [dict(batch)]
    chunks = {k: v.chunk(parts) for k, v in batch.items()}
    return [{k: c[i] for k, c in chunks.items()} for i in range(parts)]


def check_disjoint(groups: dict[str, list[nn.Parameter]]) -> None:
    owner: dict[int, str] = {}
    for name, params in groups.items():
        for p in params:
            if id(p) in owner and owner[id(p)] != name:
                raise ValueError(f"parameter groups {owner[id(p)]!r} and {name!r} share a parameter; "
                                 "param_groups() must return disjoint groups")
            owner[id(p)] = name


def holds_run(run_dir: Path) -> bool:
    """Whether `run_dir` already holds a run (checkpoints or a metrics log)."""
    return (run_dir / "checkpoints").is_dir() or (run_dir / "metrics.jsonl").is_file()


class Trainer:
    """Trains `cfg`'s model on `cfg`'s data, writing everything under `run_dir`.

    `run_dir` receives config.yaml, metrics.jsonl and checkpoints/; `hooks` (see
    `genlab.runs.standard_hooks`) add sample grids, evaluations and the loss plot. With
    `resume=True` the run continues from its latest checkpoint exactly: model (and its per-rank
    extra state), optimizers, schedules, EMA, data position and random state are all restored.
    """

    def __init__(self, cfg: Config, run_dir: str | Path, resume: bool = False,
                 dataset: Dataset | None = None, hooks: Sequence[Hook] = ()):
        self.cfg, self.run_dir, self.hooks = cfg, Path(run_dir), list(hooks)
        self._lock: RunLock | None = None
        t = cfg.train
        if cfg.data.data_dir:  # saved absolute in config.yaml, so the run does not depend on the cwd
            absolute = str(Path(cfg.data.data_dir).expanduser().resolve())
            cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, data_dir=absolute))
            self.cfg = cfg  # a copy: the caller's config is left as given
        if t.grad_accum < 1 or cfg.data.batch_size % t.grad_accum:
            raise ConfigError("train.grad_accum must be >= 1 and divide data.batch_size")
        if t.log_every < 1:
            raise ConfigError("train.log_every must be >= 1")
        choice(t.precision, PRECISIONS, "train.precision")
        double_backward = getattr(cfg.model.params, "needs_double_backward", None)
        if t.compile and double_backward is not None and double_backward():
            raise ConfigError(f"train.compile=true: model {cfg.model.name} differentiates through input "
                              "gradients (gradient penalty, R1 or gradient normalization), which "
                              "torch.compile does not support; set train.compile: false")
        probe = resolve_device(t.device)
        self.dist = DistEnv.from_env(probe.type)
        self.device = resolve_device(t.device, self.dist.local_rank)
        self.amp_dtype = PRECISIONS[t.precision] if self.device.type == "cuda" else None
        if t.precision != "fp32" and self.amp_dtype is None and self.dist.is_main:
            print(f"genlab: train.precision={t.precision} is CUDA-only; training in fp32 on CPU")

        self.dataset = dataset if dataset is not None else load_dataset(cfg.data, seed=t.seed)
        self.pixels = pixels_for(self.dataset, cfg.data)
        torch.manual_seed(t.seed)  # identical initial weights on every rank
        self.model: Model = build(cfg.model, self.dataset.spec).to(self.device)
        self.dist.broadcast_module(self.model)
        if t.channels_last:  # 4-D weights in NHWC order; image batches follow in _train_step
            self.model.to(memory_format=torch.channels_last)
        if t.compile:  # each child's forward: parameter names, state dicts and checkpoints unchanged
            for child in self.model.children():
                child.forward = torch.compile(child.forward)  # type: ignore[method-assign]
        # The training random stream (noise, dequantization) differs per rank, not across runs.
        torch.manual_seed(t.seed + 1_000_003 * (self.dist.rank + 1))
        param_sets = self.model.param_groups()  # per group: Parameters or parameter-set dicts
        self.groups = {g: flat_params(v) for g, v in param_sets.items()}
        check_disjoint(self.groups)
        unknown = set(cfg.optim) - set(self.groups) - {"default"}
        if unknown:
            raise ConfigError(
                f"optim.{sorted(unknown)[0]}: model {cfg.model.name} has parameter groups "
                f"{', '.join(self.groups)}"
            )
        for g in self.groups:
            if needs_closure(cfg.optim_for(g)):
                raise ConfigError(f"optim.{g}.name={cfg.optim_for(g).name} re-evaluates the loss in step(), "
                                  "which genlab's trainer cannot do (updates come from a generator); "
                                  "use it in your own loop with a closure")
        self.optimizers = {g: build_optimizer(ps, cfg.optim_for(g)) for g, ps in param_sets.items()}
        self.schedule_steps = t.steps  # the horizon lr schedules are planned over (kept on resume)
        self.schedulers = {g: s for g in self.groups
                           if (s := build_scheduler(self.optimizers[g], cfg.optim_for(g), t.steps))}
        self._grad_clip = {g: cfg.optim_for(g).grad_clip for g in self.groups}
        self.emas = {g: EMA(ps, cfg.optim_for(g).ema) for g, ps in self.groups.items()
                     if cfg.optim_for(g).ema}
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None
        split = {k: v.to(self.device) for k, v in self.dataset.split_tensors("train").items()}
        self.stream = BatchStream(split, cfg.data.batch_size, seed=t.seed, rank=self.dist.rank,
                                  world=self.dist.world)
        self._update_params: dict[tuple[str, ...], list[nn.Parameter]] = {}
        self._covers_all: set[tuple[str, ...]] = set()  # updates of every trainable parameter
        self.step = 0
        self.last_checkpoint: Path | None = None
        try:
            if self.dist.is_main:  # under torchrun only rank 0 owns the folder
                self._lock = RunLock(self.run_dir)
                if not resume and holds_run(self.run_dir):
                    raise ConfigError(f"{self.run_dir} already holds a run; pass resume=True to continue it "
                                      "or use a new folder")
                clean_checkpoints(self.run_dir / "checkpoints")
            if resume:
                self._resume()
                if self.dist.is_main:  # steps past the checkpoint are replayed: log them once
                    cut_metrics(self.run_dir / "metrics.jsonl", self.step)
        except BaseException:
            self._release_lock()
            raise

        self.log: MetricsLog | None = None
        if self.dist.is_main:
            (self.run_dir / "config.yaml").write_text(cfg.to_yaml())
            self.log = MetricsLog(self.run_dir, t.tensorboard)
        self._reset_window()

    # ------------------------------------------------------------------ main loop
    def fit(self) -> dict[str, Any]:
        """Train until cfg.train.steps; returns the last logged record.

        SIGINT/SIGTERM stop at the next step boundary with a checkpoint (`TrainingInterrupted`).
        """
        t = self.cfg.train
        progress = Progress(t.steps, t.progress and self.dist.is_main, start=self.step)
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
                    if self.dist.is_main:
                        for hook in self.hooks:
                            if hook.due(s, end):
                                hook(self)
        except KeyboardInterrupt as err:
            if not isinstance(err, TrainingInterrupted) and self.dist.is_main:
                print(f"\ngenlab: forced stop during step {self.step + 1}; last checkpoint kept: "
                      f"{self.last_checkpoint}")
            raise
        finally:
            progress.close()
        if self.log:
            self.log.close()
        return last

    def close(self) -> None:
        """Release what the trainer holds across processes (the process group genlab created, the
        run-folder lock)."""
        self._release_lock()
        self.dist.close()

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> Trainer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _train_step(self) -> None:
        batch = next(self.stream)
        if self.pixels is not None:
            batch["x"] = self.pixels(batch["x"])
        if self.cfg.train.channels_last and batch["x"].ndim == 4:
            batch["x"] = batch["x"].contiguous(memory_format=torch.channels_last)
        ctx = StepContext(self.step, self.dist.all_reduce_mean)
        steps = [self.model.train_step(m, ctx) for m in split_batch(batch, self.cfg.train.grad_accum)]
        while True:
            with self._autocast():
                updates = [next(s, None) for s in steps]
            if updates[0] is None:
                break
            self._apply(updates)
        self.model.on_step_end(ctx)
        for sched in self.schedulers.values():
            sched.step()

    def _params(self, groups: tuple[str, ...]) -> list[nn.Parameter]:
        if groups not in self._update_params:
            unknown = [g for g in groups if g not in self.groups]
            if unknown:
                raise ValueError(f"an Update names parameter group {unknown[0]!r}; the model has "
                                 f"{', '.join(self.groups)}")
            params = [p for g in groups for p in self.groups[g]]
            self._update_params[groups] = params
            # requires_grad is read once, here: a parameter of another group unfrozen later only gets
            # gradients from this update's plain backward, which its own update clears before use.
            trainable = {id(p) for p in self.model.parameters() if p.requires_grad}
            if trainable <= {id(p) for p in params}:
                self._covers_all.add(groups)
        return self._update_params[groups]

    def _apply(self, updates: list[Update]) -> None:
        first = updates[0]
        if len(updates) > 1 and any(u is None or u.groups != first.groups
                                    or (u.losses is None) != (first.losses is None) for u in updates):
            raise RuntimeError("micro-batches yielded different updates; train_step must not "
                               "branch on the data")
        params = self._params(first.groups)
        # backward(inputs=...) keeps other groups' gradients from being computed; an update of every
        # trainable parameter needs no restriction, and the plain backward is cheaper.
        inputs = None if first.groups in self._covers_all else params
        for p in params:
            p.grad = None
        if first.losses is None:
            for u in updates:
                loss = u.loss / len(updates)
                (self.scaler.scale(loss) if self.scaler else loss).backward(inputs=inputs)
            self.dist.average_gradients(params)
            if len(updates) == 1:  # the loss itself: only its finiteness is checked, at the flush
                total = first.loss.detach().float()
            else:
                total = sum(u.loss.detach().float() for u in updates) / len(updates)
        else:
            total = self._combine_tasks(updates, params)
        for g in first.groups:
            opt, clip = self.optimizers[g], self._grad_clip[g]
            if clip:
                if self.scaler:
                    self.scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_(self.groups[g], clip)
            if self.scaler:
                self.scaler.step(opt)
            else:
                opt.step()
            if g in self.emas:
                self.emas[g].update()
        if self.scaler:
            self.scaler.update()
        # Bookkeeping stays on the device (no host sync per step) and costs one stack and one add
        # per update: the logs of an update are summed as one vector, keyed by their names.
        self._totals.append(total)
        self._total_steps.append(self.step)
        for u in updates:
            if u.logs:
                values = torch.stack([v.detach() if v.dtype == torch.float32 and v.ndim == 0
                                      else v.detach().float().reshape(()) for v in u.logs.values()])
                self._accumulate(tuple(u.logs), values, 1 / len(updates))

    def _accumulate(self, names: tuple[str, ...], values: Tensor, weight: float) -> None:
        """Add one update's logged values (one vector, kept on the device) to the window's sums."""
        if weight != 1:
            values = values * weight
        acc = self._acc.get(names)
        self._acc[names] = values if acc is None else acc + values
        self._acc_n[names] = self._acc_n.get(names, 0.0) + weight

    def _combine_tasks(self, updates: list[Update], params: list[nn.Parameter]) -> Tensor:
        """Several named losses: per-task gradients, accumulated and averaged over processes,
        then one step along sum_i w_i g_i with w from the update's combine rule."""
        if self.scaler:
            raise ConfigError("multi-loss updates do not support train.precision=fp16; use bf16")
        names = list(updates[0].losses)
        grads = torch.zeros(len(names), sum(p.numel() for p in params), device=self.device)
        values = torch.zeros(len(names), device=self.device)
        for u in updates:
            for i, name in enumerate(names):
                loss = u.losses[name] / len(updates)
                g = torch.autograd.grad(loss, params, retain_graph=i < len(names) - 1, allow_unused=True)
                grads[i] += torch.cat([(gi if gi is not None else torch.zeros_like(p)).reshape(-1)
                                       for gi, p in zip(g, params)])
                values[i] += loss.detach().float()
        grads, values = self.dist.all_reduce_mean(grads), self.dist.all_reduce_mean(values)
        losses = dict(zip(names, values.unbind()))
        w = updates[0].combine.weights(losses, grads=grads)
        weights = torch.stack([w[n] for n in names]).to(grads)
        direction = weights @ grads
        offset = 0
        for p in params:
            p.grad = direction[offset : offset + p.numel()].view_as(p).to(p.dtype)
            offset += p.numel()
        self._accumulate(tuple(f"loss/{n}" for n in names) + tuple(f"weight/{n}" for n in names),
                         torch.cat([values, weights]).float(), 1.0)
        return weights @ values

    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    # ------------------------------------------------------------------ logging and guards
    def _reset_window(self) -> None:
        self._window_start = self.step
        self._totals: list[Tensor] = []  # every update's loss this window, and the step it belongs to
        self._total_steps: list[int] = []
        self._acc: dict[tuple[str, ...], Tensor] = {}  # summed log vectors, by the updates' log names
        self._acc_n: dict[tuple[str, ...], float] = {}  # how many updates each sum holds
        self._window_t0 = time.perf_counter()

    def _window_means(self) -> dict[str, float]:
        """Each logged name's mean over the window, fetched from the device in one transfer."""
        if not self._acc:
            return {}
        flat = iter(torch.cat(list(self._acc.values())).cpu().tolist())
        sums: dict[str, float] = {}
        counts: dict[str, float] = {}
        for names, n in self._acc_n.items():  # same order as self._acc
            for name in names:
                sums[name] = sums.get(name, 0.0) + next(flat)
                counts[name] = counts.get(name, 0.0) + n
        return {k: sums[k] / counts[k] for k in sums}

    def _flush(self) -> dict[str, Any]:
        """Check the window's losses are finite, log their means, start a new window."""
        n = self.step - self._window_start
        if n == 0:
            return {}
        trace = torch.stack(self._totals).cpu() if self._totals else torch.zeros(0)
        if self.dist.enabled:  # every rank must agree to stop
            flags = self.dist.gather(bool(torch.isfinite(trace).all()))
            finite = all(flags)
        else:
            finite = bool(torch.isfinite(trace).all())
        if not finite:
            bad = (~torch.isfinite(trace)).nonzero()
            first = self._total_steps[int(bad[0])] if len(bad) else self._window_start
            names = [k for k, v in self._window_means().items() if not math.isfinite(v)] or ["loss"]
            if self.log:
                self.log.write({"step": first + 1, "error": "non-finite loss", "losses": names})
            good = str(self.last_checkpoint) if self.last_checkpoint else None
            raise NonFiniteLossError(first + 1, names, good)
        elapsed = time.perf_counter() - self._window_t0
        record: dict[str, Any] = {"step": self.step, "steps_per_s": n / max(elapsed, 1e-9)}
        record.update(self._window_means())
        for g, opt in self.optimizers.items():
            record[f"lr/{g}"] = opt.param_groups[0]["lr"]
        if self.log:
            self.log.write(record)
        self._reset_window()
        return record

    def log_record(self, record: dict[str, Any]) -> None:
        """Append a record (e.g. a hook's evaluation) to metrics.jsonl at the current step."""
        if self.log:
            self.log.write({"step": self.step, **record})

    @contextlib.contextmanager
    def ema_weights(self) -> Iterator[None]:
        """Use every group's EMA weights inside the block (no-op for groups without EMA)."""
        with contextlib.ExitStack() as stack:
            for ema in self.emas.values():
                stack.enter_context(ema.applied())
            yield

    # ------------------------------------------------------------------ checkpoints
    def save(self) -> Path | None:
        # Collectives: every rank calls them; per-process state is kept for each rank.
        rng = self.dist.gather(rng_state(self.device))
        extra = self.dist.gather(self.model.extra_state())
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
            "extra": extra,
            "config": json.dumps(self.cfg.to_dict()),
            "data_spec": json.dumps(dataclasses.asdict(self.dataset.spec)),
            "pixels": json.dumps(dataclasses.asdict(self.pixels)) if self.pixels else "",
            "schedule_steps": self.schedule_steps,
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
        self._check_resumable(path, state)
        check_weights_fit(self.model.state_dict(), weights, path)
        self.model.load_state_dict(weights)
        self._plan_schedules(state)
        for g, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][g])  # after _plan_schedules: restores the lr
        for g, s in self.schedulers.items():
            s.load_state_dict(state["schedulers"][g])
        for g, e in self.emas.items():
            e.load_state_dict(state["ema"][g])
        if self.scaler and state["scaler"]:
            self.scaler.load_state_dict(state["scaler"])
        self.stream.load_state_dict(state["stream"])
        rank = self.dist.rank
        rng, extra = state["rng"], state.get("extra") or [{}]
        set_rng_state(rng[rank] if rank < len(rng) else rng[0], self.device)
        self.model.load_extra_state(extra[rank] if rank < len(extra) else extra[0])
        self.step = int(state["step"])
        self.last_checkpoint = path

    def _plan_schedules(self, state: dict[str, Any]) -> None:
        """Keep the lr schedules' saved horizon when train.steps changed, unless
        train.replan_schedule asks to stretch them to the new length; say which."""
        t = self.cfg.train
        saved = state.get("schedule_steps")
        if saved is None:  # checkpoints from before the horizon was saved
            saved = json.loads(state.get("config", "{}")).get("train", {}).get("steps", t.steps)
        saved = int(saved)
        if saved == t.steps:
            return
        if t.replan_schedule:
            note = f"re-planning the learning-rate schedule for {t.steps} steps (train.replan_schedule=true)"
        else:
            self.schedule_steps = saved
            self.schedulers = {g: build_scheduler(self.optimizers[g], self.cfg.optim_for(g), saved)
                               for g in self.schedulers}
            note = (f"keeping the learning-rate schedule planned for {saved} steps "
                    "(train.replan_schedule=true re-plans it)")
        if self.schedulers and self.dist.is_main:
            print(f"genlab: train.steps changed {saved} -> {t.steps} on resume; {note}", file=sys.stderr)

    # Options that decide which examples the saved data-stream position points at.
    STREAM_KEYS = (("data", "name"), ("data", "batch_size"), ("data", "n_samples"),
                   ("data", "test_fraction"), ("train", "seed"))

    def _check_resumable(self, path: Path, state: dict[str, Any]) -> None:
        """Refuse a resume whose config changes the meaning of the saved stream position, or whose
        train.steps does not go past the checkpoint."""
        step = int(state["step"])
        if self.cfg.train.steps < step:  # equal: a finished run, resumed again, has nothing to do
            raise ConfigError(f"train.steps={self.cfg.train.steps} but checkpoint {path.name} is at step "
                              f"{step}; to resume, set train.steps above {step}")
        saved = json.loads(state["config"])
        for section, key in self.STREAM_KEYS:
            old, new = saved.get(section, {}).get(key), getattr(getattr(self.cfg, section), key)
            if old is not None and old != new:
                raise ConfigError(f"--resume cannot change {section}.{key} ({old!r} -> {new!r}): the saved "
                                  "data-stream position would point at other examples; start a new run")



__all__ = ["Hook", "Trainer", "holds_run", "resolve_device"]
