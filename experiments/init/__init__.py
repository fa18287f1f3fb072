"""Initialisation: a neuron's moments by Monte Carlo, second moments through 50 ReLU layers, smoothness vs sigma^2.

Run: python -m experiments.init [--quick|--full] [--out DIR] [--seed N] [--m 100] [--sigma2 0.03] [--draws 3000]
Shows: seed 001 ex. 3. (a)-(c) for one neuron with M inputs x ~ N(0, 1) and
weights N(0, sigma^2): pre-activation mean 0 and variance M sigma^2, ReLU second
moment M sigma^2 / 2, next-layer mean 0 and variance M sigma^2 * M sigma^2 / 2,
each within 4 Monte Carlo standard errors (metrics.json single_neuron);
(d) sigma^2 = 2/M keeps the second moment: through 50 layers of width 100 the
activations' and the gradients' second moments vanish, stay, or explode for
sigma^2 = 0.5, 1, 2 times 2/M (propagation.png, log scale); (e) the initial
function of a one-hidden-layer net is smoother for smaller sigma^2 (tanh;
ReLU's shape does not depend on sigma^2) (smoothness_samples.png, smoothness.png).
"""

from __future__ import annotations

from experiments.init.config import KEYS, get_config, validate
from nndl.run import cli

NAME = "init"
SHEET = "seed 001 ex. 3"


def main(argv=None) -> int:
    from experiments.init.run import run  # jax and the maths load only when an experiment runs

    return cli.run_experiment(NAME, doc=__doc__, get_config=get_config, run=run, keys=KEYS, validate=validate,
                              argv=argv)
