"""One trainer for every family. It knows the model contract (`genlab.core.protocol`) and nothing else.

Per step: take a batch (a mapping of tensors), turn stored pixel values into model inputs, split it
into `grad_accum` micro-batches and drive the model's `train_step` generators in lockstep. Each
yielded `Update` is backpropagated into its groups' parameters on every micro-batch, gradients
are averaged over processes, clipped and applied to that update's parameter groups (then their
EMAs) before the generators resume. After the last update, `model.on_step_end` runs once.
What happens beside training (sample grids, evaluations, plots) is done by hooks the caller
attaches, so this module imports neither evaluation nor plotting.

Beside this loop: `genlab.train.resume` (continuing a run from its checkpoint), `genlab.train.window`
(the log window between two flushes), `genlab.train.run_folder` (which folders a run may use) and
`genlab.mtl.task_gradients` (the per-task gradients of a multi-loss update).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from genlab.config import Config
from genlab.core.checkpoint import save_checkpoint
from genlab.core.device import resolve_device
from genlab.core.errors import ConfigError, NonFiniteLossError, TrainingInterrupted
from genlab.core.protocol import Batch, Model, StepContext, Update
from genlab.core.rng import rng_state
from genlab.data import BatchStream, Dataset, load_dataset, pixels_for
from genlab.mtl.gradients import task_gradients, write_flat_grad
from genlab.optim import build_optimizer, build_scheduler, flat_params, needs_closure
from genlab.train.build import build
from genlab.train.distributed import DistEnv
from genlab.train.ema import EMA
from genlab.train.loggers import Loggers
from genlab.train.resume import resume as resume_from_checkpoint
from genlab.train.run_folder import claim_run_folder
from genlab.train.runlock import RunLock
from genlab.train.runlog import Progress
from genlab.train.signals import StopRequests
from genlab.train.window import LogWindow

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class Hook(Protocol):
    """Work done beside training on rank 0 (sample grids, evaluations, plots): `due(step, end)`
    says when, `__call__(trainer)` does it. A hook logs numbers with `trainer.log_record` and hands
    the files it writes to the tracking backends with `trainer.loggers.artifact(path, step)`.

    Example:
        A hook that reports once, at the end of a 2-step run of the VAE on 2-D points:

        >>> import tempfile
        >>> from genlab import load_config
        >>> cfg = load_config("vae-digits", ["data.name=8gaussians", "data.n_samples=256", "train.steps=2",
        ...                                  "train.device=cpu", "train.progress=false"])
        >>> class Report:
        ...     def due(self, step, end):
        ...         return end
        ...     def __call__(self, trainer):
        ...         print("trained", trainer.step, "steps")
        >>> with tempfile.TemporaryDirectory() as run_dir, Trainer(cfg, run_dir, hooks=[Report()]) as trainer:
        ...     _ = trainer.fit()
        trained 2 steps
    """

    def due(self, step: int, end: bool) -> bool: ...

    def __call__(self, trainer: Trainer) -> None: ...


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


class Trainer:
    """Trains `cfg`'s model on `cfg`'s data, writing everything under `run_dir`.

    `run_dir` receives config.yaml, metrics.jsonl and checkpoints/, and what the tracking backends
    of `train.loggers` write (`self.loggers`, see `genlab.train.loggers`); `hooks` (see
    `genlab.runs.standard_hooks`) add sample grids, evaluations and the loss plot. With
    `resume=True` the run continues from its latest checkpoint exactly: model (and its per-rank
    extra state), optimizers, schedules, EMA, data position and random state are all restored
    (`genlab.train.resume`). A folder that already holds a run is refused unless it is resumed or
    `overwrite=True` clears it first (`genlab.train.run_folder`).

    `dataset` replaces loading `cfg.data` (an in-memory data set). `model` replaces building
    `cfg.model` from the registry: a built `Model` (e.g. a recipe's class, not in `MODELS`), moved
    to the trainer's device and trained in place; `cfg.model` then only describes it (config.yaml,
    checkpoints). Build it under `torch.manual_seed(cfg.train.seed)` to get the weights the
    registry path would give.

    Example:
        Two steps of the VAE on 2-D points (the `8gaussians` toy) into a temporary folder:

        >>> import tempfile
        >>> from genlab import load_config
        >>> cfg = load_config("vae-digits", ["data.name=8gaussians", "data.n_samples=256", "train.steps=2",
        ...                                  "train.device=cpu", "train.progress=false"])
        >>> with tempfile.TemporaryDirectory() as run_dir:
        ...     with Trainer(cfg, run_dir) as trainer:
        ...         record = trainer.fit()  # the last logged record
        ...     written = sorted(p.name for p in Path(run_dir).iterdir() if not p.name.startswith("."))
        >>> trainer.step, record["step"], "loss" in record
        (2, 2, True)
        >>> written
        ['checkpoints', 'config.yaml', 'metrics.jsonl']
    """

    def __init__(self, cfg: Config, run_dir: str | Path, resume: bool = False,
                 dataset: Dataset | None = None, hooks: Sequence[Hook] = (), *,
                 model: Model | None = None, overwrite: bool = False):
        self.cfg, self.run_dir, self.hooks = cfg, Path(run_dir), list(hooks)
        self._lock: RunLock | None = None
        self.loggers = Loggers()  # opened below on rank 0; empty (nothing logged) on the others
        t = cfg.train  # ranges, choices and grad_accum | batch_size are checked by the config itself
        if cfg.data.data_dir:  # saved absolute in config.yaml, so the run does not depend on the cwd
            absolute = str(Path(cfg.data.data_dir).expanduser().resolve())
            cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, data_dir=absolute))
            self.cfg = cfg  # a copy: the caller's config is left as given
        if model is not None and not isinstance(model, Model):
            raise TypeError(f"model= must be a genlab.core.protocol.Model, got {type(model).__name__}")
        double_backward = getattr(cfg.model.params, "needs_double_backward", None)
        if t.compile and double_backward is not None and double_backward():
            raise ConfigError(f"train.compile=true: model {cfg.model.name} differentiates through input "
                              "gradients (gradient penalty, R1 or gradient normalization), which "
                              "torch.compile does not support; set train.compile: false")
        probe = resolve_device(t.device)
        self.dist = DistEnv.from_env(probe.type)
        self.device = resolve_device(t.device, self.dist.local_rank)
        if self.dist.is_main:  # a tracking backend that cannot start is refused before data loads
            Loggers.check(cfg, self.run_dir)
        self.amp_dtype = PRECISIONS[t.precision] if self.device.type == "cuda" else None
        if t.precision != "fp32" and self.amp_dtype is None and self.dist.is_main:
            print(f"genlab: train.precision={t.precision} is CUDA-only; training in fp32 on CPU")

        self.dataset = dataset if dataset is not None else load_dataset(cfg.data, seed=t.seed)
        self.pixels = pixels_for(self.dataset, cfg.data)
        if model is None:
            torch.manual_seed(t.seed)  # identical initial weights on every rank
            model = build(cfg.model, self.dataset.spec)  # loads the finished runs it builds on
        self.model: Model = model.to(self.device)
        self.dist.broadcast_module(self.model)  # a given model's rank-0 weights, too
        if t.channels_last:  # 4-D weights in NHWC order; image batches follow in _train_step
            self.model.to(memory_format=torch.channels_last)
        if t.compile:  # each child's forward: parameter names, state dicts and checkpoints unchanged
            for child in self.model.children():
                child.forward = torch.compile(child.forward)  # type: ignore[method-assign]
        # The training random stream (noise, dequantization) differs per rank, not across runs.
        torch.manual_seed(t.seed + 1_000_003 * (self.dist.rank + 1))
        self._build_optimizers()
        split = {k: v.to(self.device) for k, v in self.dataset.split_tensors("train").items()}
        self.stream = BatchStream(split, cfg.data.batch_size, seed=t.seed, rank=self.dist.rank,
                                  world=self.dist.world)
        self._update_params: dict[tuple[str, ...], list[nn.Parameter]] = {}
        self._covers_all: set[tuple[str, ...]] = set()  # updates of every trainable parameter
        self.step = 0
        self.last_checkpoint: Path | None = None
        # Time spent in fit() over every session of the run (a resume restores the earlier sessions'):
        # wall-clock seconds and this process's CPU seconds (all its threads; GPU work not included).
        self.train_time = {"wall_s": 0.0, "cpu_s": 0.0}
        self._clock: tuple[float, float] | None = None  # (perf_counter, process_time) when fit began
        try:
            if self.dist.is_main:  # under torchrun only rank 0 owns the folder
                self._lock = claim_run_folder(self.run_dir, resume=resume, overwrite=overwrite)
            if resume:
                resume_from_checkpoint(self)
            # metrics.jsonl and the tracking backends (rank 0 only; the others log nothing). On a
            # resume, steps past the checkpoint are replayed: each is logged once (genlab.train.loggers).
            if self.dist.is_main:
                (self.run_dir / "config.yaml").write_text(cfg.to_yaml())
                self.loggers = Loggers.open(cfg, self.run_dir, self.step if resume else None)
        except BaseException:
            self._release_lock()
            raise
        self.window = LogWindow(self.step)

    def _build_optimizers(self) -> None:
        """Per parameter group of the model: its optimizer, lr schedule, clipping and EMA; the fp16
        loss scaler."""
        cfg, steps = self.cfg, self.cfg.train.steps
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
        self.schedule_steps = steps  # the horizon lr schedules are planned over (kept on resume)
        self.schedulers = {g: s for g in self.groups
                           if (s := build_scheduler(self.optimizers[g], cfg.optim_for(g), steps))}
        self._grad_clip = {g: cfg.optim_for(g).grad_clip for g in self.groups}
        self.emas = {g: EMA(ps, decay) for g, ps in self.groups.items() if (decay := self.ema_decay(g))}
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None

    def ema_decay(self, group: str) -> float | None:
        """The EMA decay of `group`: its optim config's `ema`, or, left unset, the model class's
        `default_ema` (0 or None: no EMA)."""
        ema = self.cfg.optim_for(group).ema
        return type(self.model).default_ema if ema is None else ema

    # ------------------------------------------------------------------ main loop
    def fit(self) -> dict[str, Any]:
        """Train until cfg.train.steps; returns the last logged record.

        SIGINT/SIGTERM stop at the next step boundary with a checkpoint (`TrainingInterrupted`).
        """
        t = self.cfg.train
        progress = Progress(t.steps, t.progress and self.dist.is_main, start=self.step)
        self.model.train()
        self._clock = (time.perf_counter(), time.process_time())
        last: dict[str, Any] = {}
        status = "FAILED"  # how the tracked runs end
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
            status = "FINISHED"
        except KeyboardInterrupt as err:
            status = "KILLED"
            if not isinstance(err, TrainingInterrupted) and self.dist.is_main:
                print(f"\ngenlab: forced stop during step {self.step + 1}; last checkpoint kept: "
                      f"{self.last_checkpoint}")
            raise
        finally:
            progress.close()
            self._stop_clock()
            self.loggers.close(status)
        return last

    def elapsed(self) -> dict[str, float]:
        """Training time so far, all sessions of the run: {"wall_s": seconds, "cpu_s": CPU seconds
        of this process}; saved in every checkpoint (the model card of `genlab export` reports it)."""
        out = dict(self.train_time)
        if self._clock is not None:
            out["wall_s"] += time.perf_counter() - self._clock[0]
            out["cpu_s"] += time.process_time() - self._clock[1]
        return out

    def _stop_clock(self) -> None:
        self.train_time, self._clock = self.elapsed(), None

    def close(self) -> None:
        """Release what the trainer holds across processes (the process group genlab created, the
        run-folder lock) and end tracked runs `fit` has not ended."""
        self.loggers.close("KILLED")
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
                total = first.loss.detach()
                if total.dtype != torch.float32:
                    total = total.float()
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
        window = self.window
        window.add_loss(total, self.step)
        for u in updates:
            if u.logs:
                # Models usually log detached float32 scalars: those are stacked as they are.
                values = torch.stack([v if not v.requires_grad and v.dtype == torch.float32 and v.ndim == 0
                                      else v.detach().float().reshape(()) for v in u.logs.values()])
                window.accumulate(tuple(u.logs), values, 1 / len(updates))

    def _combine_tasks(self, updates: list[Update], params: list[nn.Parameter]) -> Tensor:
        """Several named losses: per-task gradients (`genlab.mtl.task_gradients`), summed over
        micro-batches and averaged over processes, then one step along sum_i w_i g_i with w from
        the update's combine rule."""
        if self.scaler:
            raise ConfigError("multi-loss updates do not support train.precision=fp16; use bf16")
        names = list(updates[0].losses)
        grads = values = None
        for u in updates:
            scaled = {n: u.losses[n] / len(updates) for n in names}
            g = task_gradients(scaled, params, retain_graph=False).float()  # frees this graph
            v = torch.stack([loss.detach().float() for loss in scaled.values()])
            grads, values = (g, v) if grads is None else (grads + g, values + v)
        grads, values = self.dist.all_reduce_mean(grads), self.dist.all_reduce_mean(values)
        losses = dict(zip(names, values.unbind()))
        w = updates[0].combine.weights(losses, grads=grads)
        weights = torch.stack([w[n] for n in names]).to(grads)
        write_flat_grad(params, weights @ grads, copy=False)  # each p.grad a view of the direction
        self.window.accumulate(tuple(f"loss/{n}" for n in names) + tuple(f"weight/{n}" for n in names),
                               torch.cat([values, weights]).float(), 1.0)
        return weights @ values

    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    # ------------------------------------------------------------------ logging and guards
    def _flush(self) -> dict[str, Any]:
        """Check the window's losses are finite, log their means, start a new window."""
        window = self.window
        n = self.step - window.start
        if n == 0:
            return {}
        bad = window.non_finite(self.dist)  # the window's one host sync (every rank takes part)
        if bad is not None:
            step, names = bad
            self.loggers.log({"step": step, "error": "non-finite loss", "losses": names})
            good = str(self.last_checkpoint) if self.last_checkpoint else None
            raise NonFiniteLossError(step, names, good)
        record: dict[str, Any] = {"step": self.step, "steps_per_s": n / max(window.elapsed(), 1e-9)}
        record.update(window.means())
        for g, opt in self.optimizers.items():
            record[f"lr/{g}"] = opt.param_groups[0]["lr"]
        self.loggers.log(record)
        window.reset(self.step)
        return record

    def log_record(self, record: dict[str, Any]) -> None:
        """Log a record (e.g. a hook's evaluation) at the current step: metrics.jsonl and the
        tracking backends (`self.loggers`; hooks give it their files with `self.loggers.artifact`)."""
        self.loggers.log({"step": self.step, **record})

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
            "time": self.elapsed(),
        }
        self.last_checkpoint = save_checkpoint(self.run_dir / "checkpoints", self.step,
                                               self.model.state_dict(), state,
                                               self.cfg.train.keep_checkpoints)
        return self.last_checkpoint


__all__ = ["Hook", "PRECISIONS", "Trainer", "check_disjoint", "split_batch"]
