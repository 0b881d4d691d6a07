"""Multi-task learning rules as plain PyTorch objects usable in any training loop.

Loss weightings map named scalar losses to one loss to backpropagate (`weighting`: fixed, initial,
prior, real-time 1/sg(L), power mean, gradient-normalised; `uncertainty`: learned log-variances).
Gradient-direction solvers combine per-task gradients from `gradients.task_gradients`: `mgda`
(min-norm point of their convex hull, MGDA-UB on shared features) and `auxiliary` (primary task
with auxiliary tasks that must not increase). Each solver is also available as a weighting.
"""

from genlab.mtl.auxiliary import PrimaryAuxWeighting, primary_aux_direction, primary_aux_weights
from genlab.mtl.gradients import grad_matrix, task_gradients, write_flat_grad
from genlab.mtl.losses import check_losses, stack_losses
from genlab.mtl.mgda import MinNormWeighting, mgda_ub_loss, min_norm_direction, min_norm_weights
from genlab.mtl.uncertainty import UncertaintyWeighting
from genlab.mtl.weighting import (
    FixedWeighting,
    GradNormalizedWeighting,
    InitialLossWeighting,
    LossWeighting,
    PowerMeanWeighting,
    PriorLossWeighting,
    RealtimeWeighting,
)

__all__ = ["FixedWeighting", "GradNormalizedWeighting", "InitialLossWeighting", "LossWeighting",
           "MinNormWeighting", "PowerMeanWeighting", "PrimaryAuxWeighting", "PriorLossWeighting",
           "RealtimeWeighting", "UncertaintyWeighting", "check_losses", "grad_matrix", "mgda_ub_loss",
           "min_norm_direction", "min_norm_weights", "primary_aux_direction", "primary_aux_weights",
           "stack_losses", "task_gradients", "write_flat_grad"]
