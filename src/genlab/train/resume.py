"""Resume policy: continue a run from its latest checkpoint exactly, or refuse with one line.

Restored: model weights (and each rank's extra state), optimizers, lr schedules, EMAs, the fp16
loss scaler, the data-stream position and the random state, so a resumed run logs the values the
uninterrupted run would have; also the training time so far (wall and CPU seconds). Refused: a
config that changes what the saved stream position means (`STREAM_KEYS`), or a `train.steps` short
of the checkpoint. A changed `train.steps` keeps the schedules' saved horizon unless
`train.replan_schedule` asks to stretch them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genlab.config import Config
from genlab.core.checkpoint import check_weights_fit, load_latest
from genlab.core.errors import ConfigError
from genlab.core.rng import set_rng_state
from genlab.optim import build_scheduler

if TYPE_CHECKING:
    from genlab.train.trainer import Trainer

# Options that decide which examples the saved data-stream position points at.
STREAM_KEYS = (("data", "name"), ("data", "batch_size"), ("data", "n_samples"),
               ("data", "test_fraction"), ("train", "seed"))
# What the trainer's state.pt holds (a checkpoint lacking one is skipped, with a warning, for an older one).
STATE_KEYS = ("step", "optimizers", "schedulers", "ema", "scaler", "stream", "rng", "extra", "config",
              "schedule_steps")


def resume(trainer: Trainer) -> None:
    """Load `trainer.run_dir`'s latest checkpoint into the freshly built `trainer`."""
    found = load_latest(trainer.run_dir / "checkpoints", trainer.device, required=STATE_KEYS)
    if found is None:
        raise ConfigError(f"nothing to resume: no checkpoint in {trainer.run_dir / 'checkpoints'}")
    path, weights, state = found
    check_resumable(trainer.cfg, path, state)
    check_weights_fit(trainer.model.state_dict(), weights, path)
    trainer.model.load_state_dict(weights)
    plan_schedules(trainer, state)
    for g, o in trainer.optimizers.items():
        o.load_state_dict(state["optimizers"][g])  # after plan_schedules: restores the lr
    for g, s in trainer.schedulers.items():
        s.load_state_dict(state["schedulers"][g])
    for g, e in trainer.emas.items():
        e.load_state_dict(state["ema"][g])
    if trainer.scaler and state["scaler"]:
        trainer.scaler.load_state_dict(state["scaler"])
    trainer.stream.load_state_dict(state["stream"])
    rank = trainer.dist.rank
    rng, extra = state["rng"], state["extra"]
    set_rng_state(rng[rank] if rank < len(rng) else rng[0], trainer.device)
    trainer.model.load_extra_state(extra[rank] if rank < len(extra) else extra[0])
    trainer.step = int(state["step"])
    saved = state.get("time")  # absent in checkpoints of genlab before the timing was recorded
    if isinstance(saved, dict):
        trainer.train_time = {k: float(saved.get(k, 0.0)) for k in ("wall_s", "cpu_s")}
    trainer.last_checkpoint = path


def plan_schedules(trainer: Trainer, state: dict[str, Any]) -> None:
    """Keep the lr schedules' saved horizon when train.steps changed, unless
    train.replan_schedule asks to stretch them to the new length; say which."""
    t = trainer.cfg.train
    saved = int(state["schedule_steps"])
    if saved == t.steps:
        return
    if t.replan_schedule:
        note = f"re-planning the learning-rate schedule for {t.steps} steps (train.replan_schedule=true)"
    else:
        trainer.schedule_steps = saved
        trainer.schedulers = {g: build_scheduler(trainer.optimizers[g], trainer.cfg.optim_for(g), saved)
                              for g in trainer.schedulers}
        note = (f"keeping the learning-rate schedule planned for {saved} steps "
                "(train.replan_schedule=true re-plans it)")
    if trainer.schedulers and trainer.dist.is_main:
        print(f"genlab: train.steps changed {saved} -> {t.steps} on resume; {note}", file=sys.stderr)


def check_resumable(cfg: Config, path: Path, state: dict[str, Any]) -> None:
    """Refuse a resume whose config changes the meaning of the saved stream position, or whose
    train.steps does not go past the checkpoint."""
    step = int(state["step"])
    if cfg.train.steps < step:  # equal: a finished run, resumed again, has nothing to do
        raise ConfigError(f"train.steps={cfg.train.steps} but checkpoint {path.name} is at step "
                          f"{step}; to resume, set train.steps above {step}")
    saved = json.loads(state["config"])
    for section, key in STREAM_KEYS:
        old, new = saved.get(section, {}).get(key), getattr(getattr(cfg, section), key)
        if old is not None and old != new:
            raise ConfigError(f"--resume cannot change {section}.{key} ({old!r} -> {new!r}): the saved "
                              "data-stream position would point at other examples; start a new run")


__all__ = ["STATE_KEYS", "STREAM_KEYS", "check_resumable", "plan_schedules", "resume"]
