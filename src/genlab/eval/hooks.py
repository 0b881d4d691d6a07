"""Trainer hook that evaluates every `every` steps and logs the numeric results as `eval/...`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from genlab.core.rng import isolated_rng
from genlab.eval.evaluate import evaluate

if TYPE_CHECKING:
    from genlab.train.trainer import Trainer


@dataclass
class PeriodicEvaluation:
    """`evaluate()` on the EMA weights (if any) with the evaluation seed, logged to metrics.jsonl."""

    every: int

    def due(self, step: int, end: bool) -> bool:
        return self.every > 0 and step % self.every == 0

    def __call__(self, trainer: Trainer) -> None:
        with isolated_rng(trainer.cfg.eval.seed, trainer.device), trainer.ema_weights():
            result = evaluate(trainer.model, trainer.dataset, trainer.pixels, trainer.cfg.eval,
                              trainer.device)
        trainer.log_record(eval_scalars(result))


def eval_scalars(result: dict[str, Any]) -> dict[str, float]:
    """The numbers of an `evaluate()` result, as `eval/NAME` (what metrics.jsonl and trackers log)."""
    return {f"eval/{k}": v for section in result.values() if isinstance(section, dict)
            for k, v in section.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
