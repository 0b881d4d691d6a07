"""ODE integration shared by diffusion (probability-flow ODE), score and flow-matching models.

* `solvers`: `solve(f, x0, t0, t1, method, steps, atol, rtol)` with fixed-step Euler, midpoint,
  Heun, RK4 and adaptive dopri5 (torchdiffeq), always reporting the number of function evaluations.
* `likelihood`: `ode_log_likelihood(velocity, x, t_data, t_source, ...)`, log p(x) by the
  instantaneous change of variables with an exact or Hutchinson divergence.
"""

from genlab.ode.likelihood import ODELikelihood, divergence_exact, divergence_hutchinson, ode_log_likelihood
from genlab.ode.solvers import FIXED_NFE_PER_STEP, STEPS, Method, ODESolution, State, VectorField, solve

__all__ = ["FIXED_NFE_PER_STEP", "STEPS", "Method", "ODELikelihood", "ODESolution", "State", "VectorField",
           "divergence_exact", "divergence_hutchinson", "ode_log_likelihood", "solve"]
