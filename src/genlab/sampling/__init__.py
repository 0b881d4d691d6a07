"""Samplers shared below the model families.

* `langevin`: Langevin dynamics driven by an energy (autograd) or a score (`LangevinSampler`, the
  theoretical and the practical IGEBM step), and annealed Langevin dynamics over noise levels
  (`AnnealedLangevin`, Song & Ermon 2019) on the same step.
"""

from genlab.sampling.langevin import (
    AnnealedLangevin,
    Energy,
    LangevinSampler,
    NoiseScore,
    Score,
    energy_gradient,
    geometric_sigmas,
)

__all__ = ["AnnealedLangevin", "Energy", "LangevinSampler", "NoiseScore", "Score", "energy_gradient",
           "geometric_sigmas"]
