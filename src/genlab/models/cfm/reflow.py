"""Reflow (Liu, Gong & Liu 2023, "Flow Straight and Fast", arXiv:2209.03003, sec. 2.2 and Alg. 1).

A trained flow's ODE couples each source draw z with x̂ = ODE(z); a new flow trained by flow
matching on the pairs (z, x̂) with the straight path and σ = 0 (rectified flow) has straighter
trajectories, so few Euler steps suffice (the k-rectified flow; repeat for k > 2). Here the pairs
are drawn fresh each step (z from the source, x̂ by the frozen teacher's solver) rather than from a
stored set; the data batch only sets the batch size. The teacher is a finished `cfm` run named by
`model.run`, loaded and passed in by the model builder (`upstream["teacher"]`), kept frozen inside
the model (saved with it, never trained); the student starts from the teacher's weights by default,
as Liu et al. fine-tune the 1-rectified flow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from genlab.core.errors import ConfigError
from genlab.core.protocol import DataSpec, Model

if TYPE_CHECKING:
    from genlab.models.cfm.model import CFMConfig


def check_teacher(cfg: CFMConfig, spec: DataSpec, teacher: Model | None, family: type) -> Any:
    """The teacher model if it can be reflowed into a `cfm` model with options `cfg` on data `spec`,
    frozen and in eval mode; else a one-line ConfigError."""
    if teacher is None:
        raise ConfigError(f"model.run={cfg.run}: the teacher is passed in by the model builder "
                          "(genlab.train.build.build), not loaded here")
    if not isinstance(teacher, family):
        raise ConfigError(f"model.run={cfg.run} holds a {type(teacher).__name__} run, not a cfm run")
    if cfg.path != "icfm":
        raise ConfigError(f"reflow (model.run) trains on the teacher's pairs along straight lines: use "
                          f"model.path=icfm (got {cfg.path})")
    if teacher.shape != tuple(spec.shape):
        raise ConfigError(f"the teacher {cfg.run} models examples of shape {teacher.shape}, this data "
                          f"set has {tuple(spec.shape)}")
    if teacher.cfg.source != cfg.source:
        raise ConfigError(f"the teacher {cfg.run} flows from model.source={teacher.cfg.source}; set the "
                          f"same source (got {cfg.source})")
    teacher.requires_grad_(False)
    teacher.eval()
    return teacher


__all__ = ["check_teacher"]
