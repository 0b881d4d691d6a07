"""ODE integration shared by diffusion (probability-flow ODE), score and flow-matching models.

* `solvers`: `solve(f, x0, t0, t1, method, steps, atol, rtol)` with fixed-step Euler, midpoint,
  Heun, RK4 and adaptive dopri5 (torchdiffeq), always reporting the number of function evaluations.
"""

from genlab.ode.solvers import FIXED_NFE_PER_STEP, STEPS, Method, ODESolution, State, VectorField, solve

__all__ = ["FIXED_NFE_PER_STEP", "STEPS", "Method", "ODESolution", "State", "VectorField", "solve"]
