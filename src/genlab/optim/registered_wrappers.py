"""The optimizer wrappers a config can list (applied in order, the last one outermost)."""

from __future__ import annotations

from dataclasses import dataclass

from torch.optim import Optimizer

from genlab.core.checks import check_int, check_range
from genlab.optim.decoupled import DecoupledWeightDecay
from genlab.optim.layerwise import LayerwiseAdaptation
from genlab.optim.lazy import LazyRows
from genlab.optim.lookahead import Lookahead
from genlab.optim.registry import register_wrapper
from genlab.optim.wrapper import is_vector_like


@dataclass
class LookaheadOptions:
    """Slow weights pulled by alpha every k fast steps (Zhang et al., arXiv:1907.08610)."""

    k: int = 5
    alpha: float = 0.5

    def __post_init__(self) -> None:
        check_int("k", self.k, 1)
        check_range("alpha", self.alpha, 0.0, 1.0)


@dataclass
class DecoupledWeightDecayOptions:
    """p <- p - lr * weight_decay * p outside the base update (arXiv:1711.05101).

    Parameters in a weight_decay=0 parameter set (e.g. from `no_decay_sets`) are not decayed.
    """

    weight_decay: float = 1e-2

    def __post_init__(self) -> None:
        check_range("weight_decay", self.weight_decay, 0.0)


@dataclass
class LayerwiseOptions:
    """LAMB-style trust ratio per tensor (You et al., arXiv:1904.00962)."""

    exclude_vectors: bool = True  # biases and norm gains keep the plain base update
    max_weight_norm: float | None = None

    def __post_init__(self) -> None:
        if self.max_weight_norm is not None:
            check_range("max_weight_norm", self.max_weight_norm, 0.0, low_open=True)


@dataclass
class LazyRowsOptions:
    """Untouched rows (zero gradient) keep their values, and with freeze_state their optimizer state."""

    freeze_state: bool = True


@register_wrapper("lookahead", LookaheadOptions)
def lookahead(base: Optimizer, o: LookaheadOptions) -> Optimizer:
    return Lookahead(base, o.k, o.alpha)


@register_wrapper("decoupled_weight_decay", DecoupledWeightDecayOptions)
def decoupled_weight_decay(base: Optimizer, o: DecoupledWeightDecayOptions) -> Optimizer:
    exempt = {id(p) for g in base.param_groups if g.get("no_decay") for p in g["params"]}
    return DecoupledWeightDecay(base, o.weight_decay, exclude=lambda p: id(p) in exempt)


@register_wrapper("layerwise", LayerwiseOptions)
def layerwise(base: Optimizer, o: LayerwiseOptions) -> Optimizer:
    return LayerwiseAdaptation(base, exclude=is_vector_like if o.exclude_vectors else None,
                               max_weight_norm=o.max_weight_norm)


@register_wrapper("lazy_rows", LazyRowsOptions)
def lazy_rows(base: Optimizer, o: LazyRowsOptions) -> Optimizer:
    return LazyRows(base, freeze_state=o.freeze_state)
