"""Optimizer derivations as plain PyTorch parts, usable with any `torch.optim.Optimizer` and loop.

Wrappers (each shares the base's `param_groups`, so LR schedulers and GradScaler act on the base):
`Lookahead`, `DecoupledWeightDecay`, `LayerwiseAdaptation` (LAMB-style trust ratio), `LazyRows`.
Optimizers from the dynamics view of https://kexue.fm/archives/5655 and /5879: `DampedDynamicsSGD`
(heavy ball / Nesterov as discretised damped motion) and `Heun` (two gradients per step, needs a closure).
Composition order is explicit: the outermost wrapper acts last on the update it sees, e.g.
`LazyRows(LayerwiseAdaptation(DecoupledWeightDecay(Adam(...))), params=[emb.weight])`.
Configs name them through the `OPTIMIZERS`, `WRAPPERS` and `SCHEDULES` registries, each entry with its
own typed options (`OptimConfig`, `build_optimizer`, `build_scheduler`).
"""

from genlab.optim.decoupled import DecoupledWeightDecay
from genlab.optim.dynamics import (
    DampedDynamicsSGD,
    damped_to_momentum,
    momentum_for_lr_decay,
    momentum_to_damped,
)
from genlab.optim.heun import Heun
from genlab.optim.layerwise import LayerwiseAdaptation
from genlab.optim.lazy import LazyRows
from genlab.optim.lookahead import Lookahead
from genlab.optim.wrapper import OptimizerWrapper, ParamFilter, is_vector_like

# isort: split
from genlab.optim import registered_optimizers, registered_wrappers, schedules  # noqa: F401 (register)
from genlab.optim.build import build_optimizer, build_scheduler, needs_closure
from genlab.optim.config import Choice, OptimConfig, optim_from_dict, optim_to_dict
from genlab.optim.param_sets import ParamSet, flat_params, no_decay_sets
from genlab.optim.registry import OPTIMIZERS, SCHEDULES, WRAPPERS

__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
    "WRAPPERS",
    "Choice",
    "OptimConfig",
    "ParamSet",
    "build_optimizer",
    "build_scheduler",
    "flat_params",
    "needs_closure",
    "no_decay_sets",
    "optim_from_dict",
    "optim_to_dict",
    "DampedDynamicsSGD",
    "DecoupledWeightDecay",
    "Heun",
    "LayerwiseAdaptation",
    "LazyRows",
    "Lookahead",
    "OptimizerWrapper",
    "ParamFilter",
    "damped_to_momentum",
    "is_vector_like",
    "momentum_for_lr_decay",
    "momentum_to_damped",
]
