"""SGD's sampling noise: never-sampled observations, minibatch gradient variance, learning-rate scaling.

Run: python -m experiments.sgd_noise [--quick|--full] [--out DIR] [--seed N]
Shows (seed 004 Q1): (a)/(b) the probability that an observation is never drawn
in an epoch of n draws with replacement, simulated (vmapped) for n = 10 ... 10,000,
against (1 - 1/n)^n and 1/e with binomial standard errors; (d)/(e) the variance
of the minibatch gradient of a real model (the 1-32-64-1 ReLU MLP on
data/x_y.csv) for batch sizes 1 ... 64 drawn without replacement, against
sigma^2/b times the finite-population correction (N - b)/(N - 1), slope -1 on
log-log axes; (f) the variance of one SGD step when the batch grows k-fold and
the learning rate is scaled by k (variance grows k-fold) or by sqrt(k) (constant).
"""

from __future__ import annotations

from experiments.sgd_noise.config import KEYS, get_config, validate
from nndl.run import cli

NAME = "sgd_noise"
SHEET = "seed 004 Q1"


def main(argv=None) -> int:
    from experiments.sgd_noise.run import run  # jax and the maths load only when an experiment runs

    return cli.run_experiment(NAME, doc=__doc__, get_config=get_config, run=run, keys=KEYS, validate=validate,
                              argv=argv)
