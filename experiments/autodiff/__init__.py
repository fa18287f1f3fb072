"""Forward vs reverse mode by hand on explicit graphs of y(x) and z(a, b), checked against JAX; jacfwd vs jacrev cost.

Run: python -m experiments.autodiff [--quick|--full] [--out DIR] [--x 0] [--a 2] [--b 3]
Shows: seed 000 §1 and seed 001 ex. 1. The most efficient graph of
y = exp(e^x + e^{2x}) + sin(e^x + e^{2x}) (shared nodes e^x and f3) and the graph of
z = log b / (1 + e^{a²} + b²), each node's value, forward-mode tangent and
reverse-mode adjoint (nodes_y.csv, nodes_z.csv, graph_y.png, graph_z.png);
dy/dx, dz/da, dz/db by the hand-written sweeps, jax.jvp, jax.vjp, jax.grad and
the closed form, agreeing to float64 round-off (metrics.json); and the cost of
a Jacobian of f: R^n -> R^m, jacfwd (n jvps) vs jacrev (m vjps): reverse wins
for n >> m, forward for m >> n (jacobian_cost.png).
"""

from __future__ import annotations

from experiments.autodiff.config import KEYS, get_config, validate
from nndl.run import cli

NAME = "autodiff"
SHEET = "seed 000 §1; seed 001 ex. 1"


def main(argv=None) -> int:
    from experiments.autodiff.run import run  # the sweeps and the timings load only when the experiment runs

    return cli.run_experiment(NAME, doc=__doc__, get_config=get_config, run=run, keys=KEYS, validate=validate,
                              argv=argv)
