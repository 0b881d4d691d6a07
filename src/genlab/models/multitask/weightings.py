"""How the multi-task model turns its task losses into `Update(losses=..., combine=...)`.

`TASK_WEIGHTINGS` maps `model.task_weighting` to a builder of a `TaskWeighting`; each wraps one rule
of `genlab.mtl` (https://kexue.fm/archives/8870 and /8896). Rules that need per-task gradients get
them from the trainer (over every parameter of the update, all-reduced under DDP), except
`mgda_ub`, which solves on gradients w.r.t. the shared features (MGDA-UB, arXiv:1810.04650 sec. 3.3).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn

from genlab.core.protocol import StepContext
from genlab.core.registry import Registry
from genlab.mtl import (
    FixedWeighting,
    GradNormalizedWeighting,
    InitialLossWeighting,
    LossWeighting,
    MinNormWeighting,
    PowerMeanWeighting,
    PriorLossWeighting,
    RealtimeWeighting,
    UncertaintyWeighting,
    min_norm_weights,
    task_gradients,
)


@dataclass(frozen=True)
class Tasks:
    """The model's tasks and the options of `model.task_weighting` (from the model config)."""

    names: tuple[str, ...]
    classification: frozenset[str]  # cross-entropy tasks (Kendall et al.'s factor 1 instead of 1/2)
    weights: Mapping[str, float] | None = None  # fixed: per-task weights (None: equal)
    gamma: float = 0.0  # power_mean: the exponent
    priors: Mapping[str, float] | None = None  # prior: per-task prior losses (None: from the first batch)


class TaskWeighting(nn.Module):
    """One rule, and what it adds to the named losses; a Module so learned weights are parameters."""

    def __init__(self, rule: Any) -> None:
        super().__init__()
        self.rule = rule

    def prepare(self, losses: dict[str, Tensor], features: Tensor, baselines: dict[str, Tensor],
                ctx: StepContext) -> tuple[dict[str, Tensor], Any]:
        """(losses, combine) for the Update. `features` is the shared representation; `baselines`
        the loss of the best constant predictor of each task on this batch (detached)."""
        return losses, self.rule

    def rule_state(self) -> dict[str, Any]:
        """The rule's state for the model's `extra_state` (e.g. remembered initial losses)."""
        return self.rule.state_dict() if isinstance(self.rule, LossWeighting) else {}

    def load_rule_state(self, state: Mapping[str, Any]) -> None:
        self.rule.load_state_dict(state)


class PriorWeighting(TaskWeighting):
    """w_i = 1 / L_i^prior, the loss of predicting without looking at the input (label entropy,
    pixel variance). Unless given, priors come from the first batch (all-reduced), then stay fixed
    in a buffer, so checkpoints and every process keep the same ones."""

    def __init__(self, tasks: Tasks) -> None:
        super().__init__(None)
        given = dict(tasks.priors or {})
        unknown = sorted(set(given) - set(tasks.names))
        if unknown:
            raise ValueError(f"model.task_priors names unknown tasks {unknown}; tasks: {list(tasks.names)}")
        self.names = tasks.names
        self.register_buffer("priors", torch.tensor([float(given.get(n, math.nan)) for n in self.names]))
        PriorLossWeighting({n: v for n, v in given.items()})  # range check of the given values

    def prepare(self, losses, features, baselines, ctx):
        if torch.isnan(self.priors).any():
            estimate = ctx.all_reduce_mean(torch.stack([baselines[n].detach().float() for n in self.names]))
            self.priors.copy_(torch.where(torch.isnan(self.priors), estimate.to(self.priors), self.priors))
        return losses, PriorLossWeighting(dict(zip(self.names, self.priors.clamp_min(1e-8).tolist())))


class _UncertaintyRule:
    """Combine rule of `UncertaintyTaskWeighting`: w_i = c_i exp(-s_i), 1 for the log-variance term."""

    def __init__(self, weighting: UncertaintyWeighting, extra: str) -> None:
        self.weighting, self.extra = weighting, extra

    def weights(self, losses: Mapping[str, Tensor], grads: Tensor | None = None) -> dict[str, Tensor]:
        w = (self.weighting.factor * torch.exp(-self.weighting.log_vars)).detach()
        out = dict(zip(self.weighting.names, w.unbind()))
        out[self.extra] = torch.ones((), device=w.device)
        return out


class UncertaintyTaskWeighting(TaskWeighting):
    """Learned log-variances s_i (Kendall, Gal & Cipolla, arXiv:1705.07115, eq. 7).

    The trainer steps along sum_i w_i grad L_i with detached weights, so the s_i get their gradient
    from one more named loss, "log_variance" = sum_i c_i exp(-s_i) sg(L_i) + sum_i s_i / 2 with weight
    1: together that is exactly the gradient of the paper's combined loss.
    """

    EXTRA = "log_variance"

    def __init__(self, tasks: Tasks) -> None:
        super().__init__(None)
        self.uncertainty = UncertaintyWeighting(tasks.names, tasks.classification)

    def prepare(self, losses, features, baselines, ctx):
        detached = {n: v.detach() for n, v in losses.items()}
        rule = _UncertaintyRule(self.uncertainty, self.EXTRA)
        return {**losses, self.EXTRA: self.uncertainty(detached)}, rule


class MGDAUBWeighting(TaskWeighting):
    """Min-norm weights from the gradients w.r.t. the shared features only (one cheap backward per
    task to the features, not to every parameter). The Gram matrix is averaged over processes."""

    def __init__(self) -> None:
        super().__init__(None)

    def prepare(self, losses, features, baselines, ctx):
        g = task_gradients(losses, [features]).double()
        a = min_norm_weights(ctx.all_reduce_mean(g @ g.T))
        return losses, FixedWeighting(dict(zip(losses, a.tolist())))


Builder = Callable[[Tasks], TaskWeighting]
TaskWeightingName = Literal["fixed", "initial", "realtime", "geometric", "power_mean", "grad_norm", "mgda",
                            "prior", "uncertainty", "mgda_ub"]  # the names registered below
TASK_WEIGHTINGS: Registry[Builder] = Registry("task weighting")


def _rule(name: str, make: Callable[[Tasks], Any]) -> None:
    TASK_WEIGHTINGS.register(name)(lambda tasks: TaskWeighting(make(tasks)))


_rule("fixed", lambda t: FixedWeighting(t.weights))  # equal weights 1/T unless model.task_weights
_rule("initial", lambda t: InitialLossWeighting())  # 1 / L_i at the first step
_rule("realtime", lambda t: RealtimeWeighting())  # 1 / sg(L_i): the gradient of sum_i log L_i
_rule("geometric", lambda t: PowerMeanWeighting(0.0))  # (prod L_i)^(1/T): realtime's direction
_rule("power_mean", lambda t: PowerMeanWeighting(t.gamma))  # ((1/T) sum L_i^gamma)^(1/gamma)
_rule("grad_norm", lambda t: GradNormalizedWeighting())  # 1 / ||grad L_i||: unit task gradients
_rule("mgda", lambda t: MinNormWeighting())  # min-norm point of the task gradients' hull
TASK_WEIGHTINGS.register("prior")(PriorWeighting)
TASK_WEIGHTINGS.register("uncertainty")(UncertaintyTaskWeighting)
TASK_WEIGHTINGS.register("mgda_ub")(lambda tasks: MGDAUBWeighting())


def build_task_weighting(name: TaskWeightingName, tasks: Tasks) -> TaskWeighting:
    return TASK_WEIGHTINGS.get(name)(tasks)
