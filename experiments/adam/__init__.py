"""Adam from its update rules: the sign-like first step, its remedies, AdamW vs L2, SGD vs Adam.

Run: python -m experiments.adam [--quick|--full] [--out DIR] [--seed N]
Shows (seed 000 §2, seed 003 ex. 4.3): nndl.optim.adam (written from m, v, m^, v^
and the theta update, equal to optax.adam step for step) takes a first step of
-lr g/(|g| + eps) -> -lr sign(g) with bias correction and
(1 - b1)/sqrt(1 - b2) lr sign(g) ~ 3.16 lr without; the effective step size over
the first steps with/without bias correction and with a linear warm-up
(first_step.png); AdamW's decoupled decay vs an L2 penalty in the loss on an MLP,
whose decay Adam rescales by 1/sqrt(v^) per weight (adamw_vs_l2.png); plain SGD
vs nndl's Adam on one- and two-variable linear regression and a two-class
logistic classification, train/test table and epochs to tolerance (sgd_vs_adam.png).
"""

from experiments.adam.config import KEYS, estimate, get_config, validate
from nndl.run import cli

NAME = "adam"
SHEET = "seed 000 §2, seed 003 ex. 4.3"


def main(argv=None) -> int:
    from experiments.adam.run import run  # jax and the maths load only when an experiment runs

    return cli.run_experiment(NAME, doc=__doc__, get_config=get_config, run=run, keys=KEYS, validate=validate,
                              argv=argv, estimate=estimate)
