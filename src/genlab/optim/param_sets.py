"""Parameter sets: a model's group may split its parameters into sets with their own weight decay and lr.

A group value is either a list of parameters or a list of `ParamSet` dicts, e.g. nanoGPT's split into
decayed matrices and non-decayed biases / norm gains (https://github.com/karpathy/nanoGPT, model.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypedDict

from torch import nn


class ParamSet(TypedDict, total=False):
    """Parameters sharing one weight decay and lr scale within a group (`params` is required).

    Example:
        >>> lin = nn.Linear(3, 2)
        >>> sets: list[ParamSet] = [{"params": [lin.weight]}, {"params": [lin.bias], "lr_scale": 0.1}]
        >>> [group["lr"] for group in torch_param_groups(sets, lr=1.0, has_weight_decay=True)]
        [1.0, 0.1]
    """

    params: list[nn.Parameter]  # required
    weight_decay: float | None  # None: the optimizer's own weight_decay
    lr_scale: float  # the set's lr = lr_scale * the group's (scheduled) lr; default 1


GroupValue = Sequence[nn.Parameter] | Sequence[ParamSet]

_NORMS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.RMSNorm)


def _is_sets(value: GroupValue) -> bool:
    kinds = {isinstance(v, dict) for v in value}
    if len(kinds) > 1:
        raise TypeError("a parameter group must be all Parameters or all parameter-set dicts, not a mix")
    return kinds == {True}


def flat_params(value: GroupValue) -> list[nn.Parameter]:
    """Every parameter of a group value in order (for EMA, clipping and gradient all-reduce).

    Example:
        >>> net = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
        >>> [tuple(p.shape) for p in flat_params(no_decay_sets(net))]  # decayed set first
        [(4, 3), (4,), (4,), (4,)]
    """
    if _is_sets(value):
        return [p for s in value for p in s["params"]]  # type: ignore[index]
    return list(value)  # type: ignore[arg-type]


def no_decay_sets(module: nn.Module) -> list[ParamSet]:
    """Trainable parameters split into [others (optimizer's weight_decay), biases + norm weights (0)].

    Decaying biases and normalisation gains only shrinks them towards a degenerate 0 scale/offset.

    Example:
        >>> net = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
        >>> [(len(s["params"]), s["weight_decay"]) for s in no_decay_sets(net)]  # weight; 3 vectors
        [(1, None), (3, 0.0)]
    """
    exempt: dict[int, nn.Parameter] = {}
    for mod in module.modules():
        for name, p in mod.named_parameters(recurse=False):
            if p.requires_grad and (name == "bias" or isinstance(mod, _NORMS)):
                exempt[id(p)] = p
    seen: set[int] = set()
    decay = []
    for p in module.parameters():
        if p.requires_grad and id(p) not in exempt and id(p) not in seen:
            seen.add(id(p))
            decay.append(p)
    sets: list[ParamSet] = [{"params": decay, "weight_decay": None},
                            {"params": list(exempt.values()), "weight_decay": 0.0}]
    return [s for s in sets if s["params"]]


def torch_param_groups(value: GroupValue, lr: float, has_weight_decay: bool) -> list[dict[str, Any]]:
    """torch `param_groups` for a group value: lr scaled per set; `no_decay` marks weight_decay=0 sets.

    `has_weight_decay`: whether the optimizer takes a weight_decay (others only accept 0 / None).

    Example:
        >>> lin = nn.Linear(3, 2)
        >>> groups = torch_param_groups(no_decay_sets(lin), lr=0.1, has_weight_decay=True)
        >>> [(g["lr"], g.get("weight_decay"), g.get("no_decay")) for g in groups]
        [(0.1, None, None), (0.1, 0.0, True)]
    """
    sets = value if _is_sets(value) else [{"params": list(value)}]
    groups = []
    for i, s in enumerate(sets):
        unknown = set(s) - {"params", "weight_decay", "lr_scale"}
        if "params" not in s or unknown:
            raise ValueError(f"parameter set {i} needs 'params' and may have weight_decay, lr_scale; "
                             f"got keys {sorted(s)}")
        scale, wd = s.get("lr_scale", 1.0), s.get("weight_decay")
        if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
            raise ValueError(f"parameter set {i}: lr_scale must be a finite number > 0, got {scale!r}")
        group: dict[str, Any] = {"params": list(s["params"]), "lr": lr * scale, "lr_scale": float(scale)}
        if wd is not None:
            if not (isinstance(wd, (int, float)) and math.isfinite(wd) and wd >= 0):
                raise ValueError(f"parameter set {i}: weight_decay must be a finite number >= 0, got {wd!r}")
            if has_weight_decay:
                group["weight_decay"] = float(wd)
            elif wd != 0:
                raise ValueError(f"parameter set {i}: weight_decay={wd} but this optimizer has none")
            group["no_decay"] = wd == 0
        groups.append(group)
    return groups
