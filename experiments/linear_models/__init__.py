"""Linear models: XOR least squares, ridge SGD grid search in one call, MAE gradients, Gaussian MLE, separable logistic.

Run: python -m experiments.linear_models [--quick|--full] [--data-dir DIR] [--out DIR] [--seed N]
Shows (seed 004 Q2-Q5, seed 002):
  Q2  the least-squares linear fit of XOR is flat: w = (0, 0), b = 1/2, J = 1/4, by the normal
      equations and by gradient descent (xor.png);
  Q3  L2-regularised linear regression y_hat = x.w + b (w penalised, b not) by minibatch SGD: a grid
      over batch size x learning rate x epochs x alpha trained in ONE jitted call per chunk of epochs
      by the sweep engine (one bucket per batch size, horizons masked exactly), selected on a 20 %
      validation split, the chosen config's unregularised test MSE, the closed-form ridge solution for
      the same alpha, validation-MSE heat maps (grid_search.png), and the one-call vs Python-loop time;
  Q4  the hand-written MAE gradients (n+ - n-)/n and (1/n)(sum_{y_hat>y} x - sum_{y_hat<y} x) equal
      jax.grad (and the d|t|/dt = 0 at t = 0 convention, which jnp.abs does not follow); MAE-GD vs
      MSE-GD on data with outliers (mae.png);
  Q5  the linear-Gaussian MLE in closed form equals gradient ascent on the log-likelihood and the
      MSE-optimal weights (mle.png);
  002 on separable data, GD on the logistic loss drives ||w|| to infinity like log t while w/||w||
      turns to the hard-margin direction; L(c w_hat) falls with c (separable_logistic.png).
Data (Q3): the four files age_regression_{Xtr,ytr,Xte,yte}.npy from --data-dir (default data/) when
present (48x48 face images, ages); otherwise the synthetic stand-in `nndl.data.make_age_regression`
(5,000 / 2,500 rows, 2,304 features). Inputs are standardised with the training part's per-pixel mean
and std, targets centred by its mean age (so plain learning rates are stable and b starts near its
optimum); the same transform is applied to validation and test data, and MSEs are in years^2.
"""

from __future__ import annotations

from experiments.linear_models.config import KEYS, estimate, get_config, validate
from nndl.run import cli

NAME = "linear_models"
SHEET = "seed 004 Q2-Q5, seed 002"


def main(argv=None) -> int:
    from experiments.linear_models.run import run  # jax and the maths load only when an experiment runs
    from nndl.sweep import use_host_devices

    use_host_devices()  # one CPU device per core for the grid's sweep, before JAX starts its backend
    return cli.run_experiment(NAME, doc=__doc__, get_config=get_config, run=run, keys=KEYS, validate=validate,
                              argv=argv, estimate=estimate)
