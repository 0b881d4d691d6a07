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
    """Slow weights pulled by alpha every k fast steps (Zhang et al., arXiv:1907.08610).

    Example:
        >>> LookaheadOptions(k=10).alpha
        0.5
        >>> LookaheadOptions(k=0)
        Traceback (most recent call last):
            ...
        genlab.core.errors.ConfigError: k must be an integer >= 1, got 0
    """

    k: int = 5
    alpha: float = 0.5

    def __post_init__(self) -> None:
        check_int("k", self.k, 1)
        check_range("alpha", self.alpha, 0.0, 1.0)


@dataclass
class DecoupledWeightDecayOptions:
    """p <- p - lr * weight_decay * p outside the base update (arXiv:1711.05101).

    Parameters in a weight_decay=0 parameter set (e.g. from `no_decay_sets`) are not decayed.

    Example:
        >>> DecoupledWeightDecayOptions(weight_decay=-1.0)
        Traceback (most recent call last):
            ...
        genlab.core.errors.ConfigError: weight_decay must be a finite number in [0, inf), got -1.0
    """

    weight_decay: float = 1e-2

    def __post_init__(self) -> None:
        check_range("weight_decay", self.weight_decay, 0.0)


@dataclass
class LayerwiseOptions:
    """LAMB-style trust ratio per tensor (You et al., arXiv:1904.00962).

    Example:
        >>> LayerwiseOptions(max_weight_norm=10.0).exclude_vectors
        True
        >>> LayerwiseOptions(max_weight_norm=0.0)
        Traceback (most recent call last):
            ...
        genlab.core.errors.ConfigError: max_weight_norm must be a finite number in (0, inf), got 0.0
    """

    exclude_vectors: bool = True  # biases and norm gains keep the plain base update
    max_weight_norm: float | None = None

    def __post_init__(self) -> None:
        if self.max_weight_norm is not None:
            check_range("max_weight_norm", self.max_weight_norm, 0.0, low_open=True)


@dataclass
class LazyRowsOptions:
    """Untouched rows (zero gradient) keep their values, and with freeze_state their optimizer state.

    Example:
        >>> import torch
        >>> base = torch.optim.SGD([torch.nn.Parameter(torch.zeros(3, 2))], lr=0.1)
        >>> lazy_rows(base, LazyRowsOptions(freeze_state=False)).freeze_state
        False
    """

    freeze_state: bool = True


@register_wrapper("lookahead", LookaheadOptions)
def lookahead(base: Optimizer, o: LookaheadOptions) -> Optimizer:
    """`Lookahead` around `base`.

    Example:
        >>> import torch
        >>> base = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        >>> opt = lookahead(base, LookaheadOptions(k=3))
        >>> opt.k, opt.alpha, opt.param_groups is opt.base.param_groups
        (3, 0.5, True)
    """
    return Lookahead(base, o.k, o.alpha)


@register_wrapper("decoupled_weight_decay", DecoupledWeightDecayOptions)
def decoupled_weight_decay(base: Optimizer, o: DecoupledWeightDecayOptions) -> Optimizer:
    """`DecoupledWeightDecay` that skips the groups marked `no_decay`.

    Example:
        >>> import torch
        >>> w, b = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(1))
        >>> base = torch.optim.SGD([{"params": [w]}, {"params": [b], "no_decay": True}], lr=0.1)
        >>> w.grad, b.grad = torch.zeros(2), torch.zeros(1)
        >>> decoupled_weight_decay(base, DecoupledWeightDecayOptions(weight_decay=0.5)).step()
        >>> w.detach(), b.detach()  # b's set is exempt
        (tensor([0.9500, 0.9500]), tensor([1.]))
    """
    exempt = {id(p) for g in base.param_groups if g.get("no_decay") for p in g["params"]}
    return DecoupledWeightDecay(base, o.weight_decay, exclude=lambda p: id(p) in exempt)


@register_wrapper("layerwise", LayerwiseOptions)
def layerwise(base: Optimizer, o: LayerwiseOptions) -> Optimizer:
    """`LayerwiseAdaptation`, vectors excluded when `o.exclude_vectors`.

    Example:
        >>> import torch
        >>> w = torch.nn.Parameter(torch.tensor([[3.0, 4.0]]))
        >>> w.grad = torch.tensor([[0.01, 0.0]])
        >>> layerwise(torch.optim.SGD([w], lr=0.1), LayerwiseOptions()).step()
        >>> w.detach()  # a step of lr * ||w|| = 0.5
        tensor([[2.5000, 4.0000]])
    """
    return LayerwiseAdaptation(base, exclude=is_vector_like if o.exclude_vectors else None,
                               max_weight_norm=o.max_weight_norm)


@register_wrapper("lazy_rows", LazyRowsOptions)
def lazy_rows(base: Optimizer, o: LazyRowsOptions) -> Optimizer:
    """`LazyRows` over every parameter of `base`.

    Example:
        >>> import torch
        >>> emb = torch.nn.Embedding(3, 2)
        >>> opt = lazy_rows(torch.optim.SGD(emb.parameters(), lr=0.1, momentum=0.9), LazyRowsOptions())
        >>> emb(torch.tensor([0])).sum().backward(); opt.step(); opt.zero_grad()
        >>> before = emb.weight.detach().clone()
        >>> emb(torch.tensor([1])).sum().backward(); opt.step()
        >>> (emb.weight != before).any(dim=1)  # row 0 does not coast on its momentum
        tensor([False,  True, False])
    """
    return LazyRows(base, freeze_state=o.freeze_state)
