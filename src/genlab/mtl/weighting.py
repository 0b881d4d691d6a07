"""Loss weightings for multi-task learning: named losses -> sum_i sg(w_i) * L_i.

Every rule returns the weighted sum with detached weights, so one backward pass gives the combined
gradient sum_i w_i grad L_i, and keeps the weights it used in `last_weights` for logging. The
strategies (initial, prior, real-time, power mean, gradient-normalised) are those discussed in
https://kexue.fm/archives/8870 .
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from genlab.mtl.gradients import grad_matrix, task_gradients
from genlab.mtl.losses import stack_losses


class LossWeighting:
    """Base rule: subclasses map (names, detached loss values, optional [T, P] task gradients) to [T] weights.

    A rule with `needs_grads = True` uses per-task gradients: pass `grads` (e.g. from `task_gradients`,
    all-reduced under DDP) or give the rule the shared `params` to differentiate against itself.

    Example:
        >>> class Halves(LossWeighting):
        ...     def _weights(self, names, values, grads):
        ...         return torch.full_like(values, 0.5)
        >>> float(Halves()({"a": torch.tensor(2.0), "b": torch.tensor(4.0)}))
        3.0
    """

    needs_grads: bool = False

    def __init__(self, params: Sequence[Tensor] | None = None) -> None:
        self.params = None if params is None else list(params)
        self.last_weights: dict[str, Tensor] = {}

    def weights(self, losses: Mapping[str, Tensor], grads: Tensor | Sequence[Tensor] | None = None
                ) -> dict[str, Tensor]:
        """Detached weight of each named loss (does not update `last_weights`)."""
        names, values = stack_losses(losses)
        return dict(zip(names, self._resolve(losses, names, values, grads).unbind()))

    def __call__(self, losses: Mapping[str, Tensor], grads: Tensor | Sequence[Tensor] | None = None
                 ) -> Tensor:
        names, values = stack_losses(losses)
        w = self._resolve(losses, names, values, grads)
        self.last_weights = dict(zip(names, w.detach().unbind()))  # for logging: no graph kept
        return (w * values).sum()

    def _resolve(self, losses: Mapping[str, Tensor], names: list[str], values: Tensor,
                 grads: Tensor | Sequence[Tensor] | None) -> Tensor:
        matrix = None if grads is None else grad_matrix(grads, len(names))
        if self.needs_grads and matrix is None:
            if self.params is None:
                raise ValueError(f"{type(self).__name__} needs per-task gradients: pass grads=[T, P] "
                                 "or construct it with params=<shared parameters>")
            matrix = task_gradients(losses, self.params)
        w = self._weights(names, values.detach(), None if matrix is None else matrix.detach())
        return w.detach().to(values)

    def _weights(self, names: list[str], values: Tensor, grads: Tensor | None) -> Tensor:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:  # noqa: B027 - stateless by default
        pass


def _positive_constants(constants: Mapping[str, float], what: str) -> dict[str, float]:
    out = {}
    for name, value in constants.items():
        value = float(value)
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{what} for task {name!r} must be finite and > 0, got {value}")
        out[name] = value
    return out


def _lookup(table: Mapping[str, Any], names: list[str], what: str) -> list[Any]:
    missing = [n for n in names if n not in table]
    if missing:
        raise ValueError(f"no {what} for task(s) {missing}; known: {sorted(table)}")
    return [table[n] for n in names]


class FixedWeighting(LossWeighting):
    """Constant weights w_i >= 0 per name; `None` means equal weights 1/T.

    Example:
        >>> rule = FixedWeighting({"a": 1.0, "b": 0.1})
        >>> float(rule({"a": torch.tensor(2.0), "b": torch.tensor(10.0)}))
        3.0
    """

    def __init__(self, weights: Mapping[str, float] | None = None) -> None:
        super().__init__()
        if weights is not None:
            for name, value in weights.items():
                if not (math.isfinite(float(value)) and float(value) >= 0):
                    raise ValueError(f"weight for task {name!r} must be finite and >= 0, got {value}")
        self.fixed = None if weights is None else {k: float(v) for k, v in weights.items()}

    def _weights(self, names: list[str], values: Tensor, grads: Tensor | None) -> Tensor:
        if self.fixed is None:
            return torch.full_like(values, 1.0 / len(names))
        return values.new_tensor(_lookup(self.fixed, names, "weight"))


class PriorLossWeighting(LossWeighting):
    """w_i = 1 / L_i^prior with user-given priors (e.g. label entropy or label variance); scale-invariant.

    Example:
        >>> rule = PriorLossWeighting({"a": 2.0, "b": 0.5})
        >>> float(rule({"a": torch.tensor(2.0), "b": torch.tensor(1.0)}))  # 2 / 2 + 1 / 0.5
        3.0
    """

    def __init__(self, priors: Mapping[str, float]) -> None:
        super().__init__()
        self.priors = _positive_constants(priors, "prior loss")

    def _weights(self, names: list[str], values: Tensor, grads: Tensor | None) -> Tensor:
        return 1.0 / values.new_tensor(_lookup(self.priors, names, "prior loss"))


class InitialLossWeighting(LossWeighting):
    """w_i = 1 / L_i at the first call that sees task i; the remembered losses are the state.

    Example:
        >>> rule = InitialLossWeighting()
        >>> float(rule({"a": torch.tensor(4.0), "b": torch.tensor(0.5)}))  # first call: each loss counts 1
        2.0
        >>> float(rule({"a": torch.tensor(2.0), "b": torch.tensor(0.25)}))  # both halved
        1.0
    """

    def __init__(self) -> None:
        super().__init__()
        self.initial: dict[str, Tensor] = {}

    def _weights(self, names: list[str], values: Tensor, grads: Tensor | None) -> Tensor:
        for name, value in zip(names, values):
            if name not in self.initial:
                if not (torch.isfinite(value) and value > 0):
                    raise ValueError(f"initial loss of task {name!r} must be finite and > 0, "
                                     f"got {float(value)}")
                self.initial[name] = value.clone()
        return 1.0 / torch.stack([self.initial[n].to(values) for n in names])

    def state_dict(self) -> dict[str, Any]:
        return {"initial_losses": {n: v.clone() for n, v in self.initial.items()}}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        stored = state.get("initial_losses")
        if not isinstance(stored, Mapping):
            raise ValueError("state must hold 'initial_losses': a mapping name -> scalar tensor")
        self.initial = {n: torch.as_tensor(v).detach().clone().reshape(()) for n, v in stored.items()}


class RealtimeWeighting(LossWeighting):
    """w_i = 1 / sg(L_i): the value is always T, the gradient is that of sum_i log L_i.

    Same direction as the geometric mean (prod L_i)^(1/T). Losses must be positive (clamped at `eps`).

    Example:
        >>> x = torch.tensor([2.0, 0.5], requires_grad=True)
        >>> loss = RealtimeWeighting()({"a": x[0], "b": x[1]})
        >>> loss.backward()
        >>> loss.item(), x.grad  # value T = 2, gradient of log L_a + log L_b
        (2.0, tensor([0.5000, 2.0000]))
    """

    def __init__(self, eps: float = 1e-8) -> None:
        super().__init__()
        if not eps > 0:
            raise ValueError(f"eps must be > 0, got {eps}")
        self.eps = eps

    def _weights(self, names: list[str], values: Tensor, grads: Tensor | None) -> Tensor:
        return 1.0 / values.clamp_min(self.eps)


class PowerMeanWeighting(LossWeighting):
    """Generalised mean M = ((1/T) sum_i L_i^gamma)^(1/gamma) through its own partial derivatives.

    M is homogeneous of degree 1, so sum_i (dM/dL_i) L_i = M: with w_i = dM/dL_i = (L_i / M)^(gamma-1) / T
    the weighted sum has M's value and gradient. gamma = 1 arithmetic, 0 geometric, +inf max, -inf min.
    Losses must be positive (clamped at `eps`); computed in log space so large |gamma| does not overflow.

    Example:
        >>> losses = {"a": torch.tensor(1.0), "b": torch.tensor(4.0)}
        >>> float(PowerMeanWeighting(0.0)(losses)), float(PowerMeanWeighting(1.0)(losses))  # geometric, mean
        (2.0, 2.5)
        >>> float(PowerMeanWeighting(float("inf"))(losses))
        4.0
    """

    def __init__(self, gamma: float, eps: float = 1e-8) -> None:
        super().__init__()
        if math.isnan(gamma):
            raise ValueError("gamma must be a real number or +-inf, got nan")
        if not eps > 0:
            raise ValueError(f"eps must be > 0, got {eps}")
        self.gamma, self.eps = float(gamma), eps

    def _weights(self, names: list[str], values: Tensor, grads: Tensor | None) -> Tensor:
        n, g = len(names), self.gamma
        if math.isinf(g):
            extreme = values.max() if g > 0 else values.min()
            hit = (values == extreme).to(values.dtype)
            return hit / hit.sum()  # ties share the (sub)gradient equally
        logs = values.clamp_min(self.eps).log()
        log_mean = logs.mean() if g == 0 else (torch.logsumexp(g * logs, 0) - math.log(n)) / g
        return torch.exp((g - 1) * (logs - log_mean) - math.log(n))


class GradNormalizedWeighting(LossWeighting):
    """w_i = 1 / (||grad L_i|| + eps): sums unit-norm task gradients; scale- and shift-invariant.

    Norms are taken over the given shared parameters (`grads` rows or `params`), a design choice.

    Example:
        >>> w = torch.tensor([1.0, 1.0], requires_grad=True)
        >>> rule = GradNormalizedWeighting(params=[w])
        >>> loss = rule({"a": 3 * w[0] + 4 * w[1], "b": w[0]})  # gradient norms 5 and 1
        >>> {k: round(float(v), 4) for k, v in rule.last_weights.items()}
        {'a': 0.2, 'b': 1.0}
    """

    needs_grads = True

    def __init__(self, params: Sequence[Tensor] | None = None, eps: float = 1e-8) -> None:
        super().__init__(params)
        if not eps > 0:
            raise ValueError(f"eps must be > 0, got {eps}")
        self.eps = eps

    def _weights(self, names: list[str], values: Tensor, grads: Tensor | None) -> Tensor:
        return 1.0 / (torch.linalg.vector_norm(grads.to(values.dtype), dim=1) + self.eps)
