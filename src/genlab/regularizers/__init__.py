"""Regularizers as plain PyTorch parts, usable with any model and loop.

`gradient_penalty`: input- and parameter-gradient penalties by double backprop, and the
finite-difference form of the parameter-gradient penalty's gradient (no double backprop);
`gp_inequality`: both sides of the inequality that bounds an MLP's input-gradient norm by its
parameter-gradient norm (https://kexue.fm/archives/8796); `dropout`: dropout with masks shared
along chosen dimensions (`noise_shape`, https://kexue.fm/archives/4521).
"""

from genlab.regularizers.dropout import StructuredDropout
from genlab.regularizers.gp_inequality import GPInequality, gp_inequality_sides
from genlab.regularizers.gradient_penalty import (
    input_gradient_norm,
    input_gradient_penalty,
    param_gradient_penalty,
    param_gradient_penalty_fd_,
)

__all__ = ["GPInequality", "StructuredDropout", "gp_inequality_sides", "input_gradient_norm",
           "input_gradient_penalty", "param_gradient_penalty", "param_gradient_penalty_fd_"]
