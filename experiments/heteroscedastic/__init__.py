"""Heteroscedastic regression on data/x_y.csv: MSE fit, learning-rate regimes, mean-and-variance network.

Run: python -m experiments.heteroscedastic [--quick|--full] [--out DIR] [--seed N] [--data CSV]
Shows (seed 000 §3): (a) a seeded 66/33 train/test split; (b) the MSE as the
homoscedastic Gaussian log-likelihood (derivation, experiments/heteroscedastic/report.md);
(c) a 1->32->64->1 ReLU MLP fitted by MSE, plotted on the test set, with an
under/over-fitting verdict from its train/test errors in excess of the TRUE model's
(nndl.data's generator) on the same points, with standard errors; (d) a
learning-rate sweep (ONE nndl.sweep engine run over rates x seeds and the linear
warm-up + cosine schedule) on a validation split carved from the training set, the
nearest rates that clearly fail on either side of the best shown as "too large"/"too
small", the schedule vs the constant rate of (c); an architecture exploration (depth x
width x weight decay x activation, nndl.sweep engine) selected on validation, test
reported once; (e) the heteroscedastic log-likelihood (derivation); (f) a two-headed
MLP predicting mean and variance trained on the Gaussian NLL: mean +- 2 sigma on
the test points, train/test NLL against the true model's, calibration. A diverged
fit is reported as diverged (null numbers and a flag), never as a verdict on NaNs.
"""

from __future__ import annotations

from experiments.heteroscedastic.config import KEYS, estimate, get_config, validate
from nndl.run import cli

NAME = "heteroscedastic"
SHEET = "seed 000 §3"

__all__ = ["KEYS", "NAME", "SHEET", "get_config", "main", "validate"]


def main(argv=None) -> int:
    from experiments.heteroscedastic.run import run  # jax and the maths load only when an experiment runs

    return cli.run_experiment(NAME, doc=__doc__, get_config=get_config, run=run, keys=KEYS, validate=validate,
                              argv=argv, estimate=estimate)
