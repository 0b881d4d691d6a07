"""Base class for optimizers that wrap another optimizer and change what its step does.

The "derived optimizer" idea of https://kexue.fm/archives/7094: one modification (decay, trust ratio,
lazy rows, slow weights) applied around any base optimizer instead of a new optimizer per combination.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Callable
from typing import Any

import torch
from torch.optim import Optimizer

ParamFilter = Callable[[torch.Tensor], bool]
Closure = Callable[[], Any]


def is_vector_like(p: torch.Tensor) -> bool:
    """True for tensors with at most one dimension (biases, norm gains): the usual exclusion set.

    Example:
        >>> [is_vector_like(p) for p in torch.nn.Linear(3, 2).parameters()]  # weight, bias
        [False, True]
    """
    return p.ndim <= 1


def by_device_and_dtype(tensors: list[torch.Tensor]) -> list[list[torch.Tensor]]:
    """`tensors` split into lists of one device and dtype each, the unit of a `torch._foreach_*` call.

    Example:
        >>> tensors = [torch.zeros(1), torch.zeros(1, dtype=torch.float64), torch.ones(2)]
        >>> [len(batch) for batch in by_device_and_dtype(tensors)]
        [2, 1]
    """
    batches: dict[tuple[torch.device, torch.dtype], list[torch.Tensor]] = {}
    for t in tensors:
        batches.setdefault((t.device, t.dtype), []).append(t)
    return list(batches.values())


def scratch_like(opt: Optimizer, p: torch.Tensor) -> torch.Tensor:
    """An uninitialised tensor like `p`, kept on `opt` between steps so that no step allocates one.

    Scratch space only (every step overwrites it before reading), so it is in no state dict; it lives
    in `opt.__dict__` directly because `Optimizer.__getstate__` keeps only defaults, state and groups.

    Example:
        >>> p = torch.nn.Parameter(torch.zeros(2, 3))
        >>> opt = torch.optim.SGD([p], lr=0.1)
        >>> buf = scratch_like(opt, p)
        >>> buf.shape, scratch_like(opt, p) is buf  # the same buffer at every step
        (torch.Size([2, 3]), True)
    """
    buffers: dict[torch.Tensor, torch.Tensor] = opt.__dict__.setdefault("_scratch", {})
    buf = buffers.get(p)
    if buf is None or buf.shape != p.shape or buf.dtype != p.dtype or buf.device != p.device:
        buf = buffers[p] = torch.empty_like(p)
    return buf


class OptimizerWrapper(Optimizer):
    """A `torch.optim.Optimizer` that delegates to `base` and shares its `param_groups` list.

    Because the groups are the base's own dicts, LR schedulers, `GradScaler.unscale_` and
    `add_param_group` act on the base whether they are handed the wrapper or the base. Subclasses keep
    their own per-parameter tensors in `self.state`; `state_dict()` stores them by parameter index next
    to the base's state dict, so a checkpoint holds only tensors, numbers, strings, lists and dicts.

    Example:
        >>> base = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1)
        >>> wrapped = OptimizerWrapper(base)
        >>> wrapped.param_groups[0]["lr"] = 0.05  # what an LR scheduler on the wrapper does
        >>> wrapped.param_groups is base.param_groups, base.param_groups[0]["lr"]
        (True, 0.05)
    """

    def __init__(self, base: Optimizer) -> None:
        if not isinstance(base, Optimizer):
            raise TypeError(f"base must be a torch.optim.Optimizer, got {type(base).__name__}")
        # Optimizer.__init__ would build its own param_groups list; set up only what its methods use.
        self.base = base
        self.defaults = base.defaults
        self._optimizer_step_pre_hooks = OrderedDict()
        self._optimizer_step_post_hooks = OrderedDict()
        self._optimizer_state_dict_pre_hooks = OrderedDict()
        self._optimizer_state_dict_post_hooks = OrderedDict()
        self._optimizer_load_state_dict_pre_hooks = OrderedDict()
        self._optimizer_load_state_dict_post_hooks = OrderedDict()
        self._patch_step_function()
        self.state: defaultdict[torch.Tensor, dict[str, Any]] = defaultdict(dict)

    @property
    def param_groups(self) -> list[dict[str, Any]]:  # type: ignore[override]
        return self.base.param_groups

    @param_groups.setter
    def param_groups(self, value: list[dict[str, Any]]) -> None:
        self.base.param_groups = value

    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def _params(self) -> list[torch.Tensor]:
        """All parameters in group order (the order `state_dict()` indexes them by)."""
        return [p for group in self.param_groups for p in group["params"]]

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.base.zero_grad(set_to_none=set_to_none)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        self.base.add_param_group(param_group)
        self._init_group(self.param_groups[-1])

    def _init_group(self, group: dict[str, Any]) -> None:
        """Create the wrapper's per-parameter state for a new group (none by default)."""

    def _extra_state(self) -> dict[str, Any]:
        """Counters and settings to checkpoint besides per-parameter tensors."""
        return {}

    def _load_extra_state(self, extra: dict[str, Any]) -> None:
        """Restore what `_extra_state` returned."""

    def _step_base(self, closure: Closure | None, prepare: Callable[[], None]) -> Any:
        """Run `prepare()` once gradients exist, then the base step.

        Without a closure the gradients are already there, so `prepare` runs first. With one, it runs
        right after the first closure evaluation inside the base step, so nested wrappers see the
        same order in both cases (e.g. decay, then the snapshot of a trust-ratio wrapper).
        """
        if closure is None:
            with torch.no_grad():
                prepare()
            return self.base.step()
        fired = False

        def closure_then_prepare() -> Any:
            nonlocal fired
            loss = closure()
            if not fired:
                fired = True
                with torch.no_grad():
                    prepare()
            return loss

        return self.base.step(closure_then_prepare)

    def state_dict(self) -> dict[str, Any]:
        index = {p: i for i, p in enumerate(self._params())}
        state = {index[p]: dict(s) for p, s in self.state.items() if p in index}
        return {"base": self.base.state_dict(), "state": state, "extra": self._extra_state()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        missing = {"base", "state", "extra"} - set(state_dict)
        if missing:
            raise ValueError(f"state_dict lacks keys {sorted(missing)} of a wrapper state_dict")
        params = self._params()
        restored: defaultdict[torch.Tensor, dict[str, Any]] = defaultdict(dict)
        for i, entries in state_dict["state"].items():
            if not 0 <= int(i) < len(params):
                raise ValueError(f"state_dict has state for parameter {i}; this optimizer has {len(params)}")
            p = params[int(i)]
            restored[p] = {k: _like_param(v, p) for k, v in entries.items()}
        self.base.load_state_dict(state_dict["base"])
        self.state = restored
        for group in self.param_groups:
            self._init_group(group)
        self._load_extra_state(state_dict["extra"])


def _like_param(value: Any, p: torch.Tensor) -> Any:
    if not torch.is_tensor(value):
        return value
    dtype = p.dtype if value.is_floating_point() else value.dtype
    return value.to(device=p.device, dtype=dtype).clone()
