"""The family-agnostic trainer and its parts (checkpoints, EMA, schedules, distributed)."""

from genlab.train.trainer import Trainer

__all__ = ["Trainer"]
