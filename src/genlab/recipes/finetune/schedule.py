"""Staged unfreezing for fine-tuning (https://kexue.fm/archives/4611): train the new layers on a frozen
backbone first, then release the top of the backbone, then (here) all of it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from genlab.core.checks import check_int


@dataclass(frozen=True)
class Unfreezing:
    """`stages[k] = (first step, parameter groups trained from that step on)`: the first stage starts at
    step 0, starts do not decrease (a stage starting with the next one is skipped), and each stage
    trains a superset of the groups before it. Groups outside the current stage get no update at all."""

    stages: tuple[tuple[int, tuple[str, ...]], ...]

    def __post_init__(self) -> None:
        if not self.stages or self.stages[0][0] != 0:
            raise ValueError(f"the first unfreezing stage must start at step 0, got {self.stages}")
        for (s0, g0), (s1, g1) in zip(self.stages, self.stages[1:]):
            check_int("stage start", s1, s0)
            if not set(g0) <= set(g1):
                raise ValueError(f"stage at step {s1} freezes {sorted(set(g0) - set(g1))} again; stages may "
                                 "only add groups")
        if any(not groups for _, groups in self.stages):
            raise ValueError("every unfreezing stage must train at least one group")

    @classmethod
    def cumulative(cls, groups: Sequence[str], steps: Sequence[int]) -> Unfreezing:
        """Stage k (from step steps[k - 1], stage 0 from 0) trains groups[: k + 1]."""
        if len(steps) != len(groups) - 1:
            raise ValueError(f"{len(groups)} groups need {len(groups) - 1} stage starts, got {list(steps)}")
        starts = (0, *steps)
        return cls(tuple((s, tuple(groups[: k + 1])) for k, s in enumerate(starts)))

    def groups_at(self, step: int) -> tuple[str, ...]:
        """The groups trained at (0-based) optimizer step `step`."""
        current = self.stages[0][1]
        for start, groups in self.stages:
            if step >= start:
                current = groups
        return current

    def stage_at(self, step: int) -> int:
        return sum(step >= start for start, _ in self.stages) - 1
