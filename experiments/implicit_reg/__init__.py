"""Implicit regularisation of SGD: learning rate vs gradient norms vs test error on converged runs, in one sweep.

Run: python -m experiments.implicit_reg [--quick|--full] [--lrs 0.02,0.04,0.08,0.16] [--seeds 3] [--data-draws 2]
Shows (seed 001, computer assignment 2): a 5-hidden-layer, M=50 ReLU net trained by plain
SGD (B=20) on the double-descent data at several learning rates until training MSE < 1e-5,
from several init seeds on several independently drawn training sets; at the converged
parameters ||grad J||^2 and the minibatch gradient variance (1/N_b) sum_b ||grad J_b - grad J||^2
with error bars; their relation to the learning rate and the test error, compared with
Smith et al. (2021), whose backward-error analysis says SGD follows J + (lr/4) mean_k ||grad J_k||^2;
then explicit weight decay, chosen on a held-out validation set, against the implicit-only runs.
"""

from __future__ import annotations

from experiments.implicit_reg.config import KEYS, estimate, get_config, validate
from nndl.run import cli

NAME = "implicit_reg"
SHEET = "seed 001, computer assignment 2"

__all__ = ["KEYS", "NAME", "SHEET", "get_config", "main", "validate"]


def main(argv=None) -> int:
    from nndl.sweep import use_host_devices

    use_host_devices()  # one CPU device per core, before JAX starts its backend
    from experiments.implicit_reg.run import run  # the sweeps and their maths load only when it runs

    return cli.run_experiment(NAME, doc=__doc__, get_config=get_config, run=run, keys=KEYS, validate=validate,
                              argv=argv, estimate=estimate)
