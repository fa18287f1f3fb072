"""MLP forward/backward pass by hand = jax.grad; FLOP counts vs XLA; seed 002's 5·ReLU net by hand.

Run: python -m experiments.backprop [--quick|--full] [--out DIR] [--seed N] [--batch 7] [--lr 0.01] [--steps 200]
Shows: seed 001 ex. 2 and seed 002 Problem 1. (a)-(b) the manual forward and
backward pass of an MLP with K hidden layers of L units (experiments.backprop.passes)
equals jax.grad for several (I, O, K, L, psi) (grad_max_abs_err, float64); (c) the
analytic FLOP count of each pass vs XLA's compiled cost analysis over a grid
of (I, O, K, L, batch), backward/forward ~ 2 (flops.png, the `flops` table);
seed 002: each layer's input/output, the Jacobians dz2/dz1 = diag(5·1[z1>0]),
dyhat/dz3 = I, dl/dyhat = 2(yhat - y)^T with their shapes, the five training
steps run by hand, one SGD step by hand = jax.grad + optax.sgd (seed002_loss.png).
"""

from __future__ import annotations

from experiments.backprop.config import KEYS, get_config, validate
from nndl.run import cli

NAME = "backprop"
SHEET = "seed 001 ex. 2; seed 002 Problem 1"


def main(argv=None) -> int:
    from experiments.backprop.run import run  # the passes and XLA's cost analysis load only when the experiment runs

    return cli.run_experiment(NAME, doc=__doc__, get_config=get_config, run=run, keys=KEYS, validate=validate,
                              argv=argv)
