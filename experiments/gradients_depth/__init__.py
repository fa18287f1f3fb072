"""Vanishing and exploding gradients: ||dE/dW^(k)|| layer by layer vs depth, activation, init scale, residual.

Run: python -m experiments.gradients_depth [--quick|--full] [--out DIR] [--seed N] [--depths 5,10,20,50] [--scales 1,2]
Shows: seed 003 ex. 4.1. At initialisation, for L in {5, 10, 20, 50}, sigmoid,
tanh and ReLU, W ~ N(0, scale/n) for two scales, with and without residual
connections x^(l) = x^(l-1) + psi(z^(l)): the per-layer gradient norms, all
cases in one jitted vmapped call (grad_norms.png, log scale), and
ratio ||dE/dW^(1)|| / ||dE/dW^(L)|| vs depth (ratio_vs_depth.png): the
product of L - k Jacobians diag(psi') W^T makes early-layer gradients shrink
or grow geometrically in depth (sigmoid: psi' <= 1/4 vanishes for every scale),
bounded by the product of ||W||_2 max|psi'| (log10_bound_first); the identity
path of a residual block keeps early layers' gradients at the scale of late ones.
"""

from __future__ import annotations

from experiments.gradients_depth.config import KEYS, get_config, validate
from nndl.run import cli

NAME = "gradients_depth"
SHEET = "seed 003 ex. 4.1"


def main(argv=None) -> int:
    from experiments.gradients_depth.run import run  # jax and the maths load only when an experiment runs

    return cli.run_experiment(NAME, doc=__doc__, get_config=get_config, run=run, keys=KEYS, validate=validate,
                              argv=argv)
