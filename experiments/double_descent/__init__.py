"""Double descent: train/test MSE of 8->M->M->8 ReLU nets vs width M, for N = 100 and N = 200, in ONE jitted sweep.

Run: python -m experiments.double_descent [--quick|--full] [--widths 2:200:2] [--epochs 6000] [--seeds 3]
     [--data-draws 2]
Shows (seed 001, computer assignment 1): (b) training curves for M in {10, 50, 100} on
log-log axes and the first epoch below MSE 1e-3; (c) final train and test MSE vs M (mean
± s.e. over init seeds × data draws) with the optimal test error R_t, the interpolation
threshold against the counting argument P(M) = N·O and its dependence on the training
budget (a width × epoch heat map); (d) N = 100 vs N = 200 at widths picked from the
measured curves: where more data hurts, with the difference ± its standard error.
Data: the fixed random tanh teacher of `nndl.data.teacher` plus Gaussian noise (sigma 0.5);
every data draw is a new training set, and N = 100 is the first half of each N = 200 set.
"""

from __future__ import annotations

from experiments.double_descent.config import KEYS, estimate, get_config, validate
from nndl.run import cli

NAME = "double_descent"
SHEET = "seed 001, computer assignment 1"

__all__ = ["KEYS", "NAME", "SHEET", "get_config", "main", "validate"]


def main(argv=None) -> int:
    from nndl.sweep import use_host_devices

    use_host_devices()  # one CPU device per core, before JAX starts its backend
    from experiments.double_descent.run import run  # the sweep and its maths load only when it runs

    return cli.run_experiment(NAME, doc=__doc__, get_config=get_config, run=run, keys=KEYS, validate=validate,
                              argv=argv, estimate=estimate)
