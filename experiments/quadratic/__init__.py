"""M = Σ xᵢxᵢᵀ is PSD (PD iff the xᵢ span Rⁿ); x* = -M⁻¹m; the gradient flow converges at rate λ_min.

Run: python -m experiments.quadratic [--quick|--full] [--out DIR] [--seed N] [--n 8] [--N 32]
Shows: seed 003 ex. 4.2. (a.1) M = Σ xᵢxᵢᵀ from Gaussian xᵢ is exactly symmetric
with eigenvalues >= 0; (a.2) rank M = dim span{xᵢ} = min(N, n) for N = 1..n+2, so M is
positive-definite iff N >= n (span.png); (b) x* = -M⁻¹m zeroes the gradient and
f(x*+d) - f(x*) = ½dᵀMd > 0; (c) the gradient flow ẋ = -Mx - m solved exactly
(eigendecomposition, checked against the matrix exponential of the augmented system),
by RK4 and by gradient descent (stable iff η < 2/λ_max) converges to x* with
‖x(t) - x*‖ <= e^{-λ_min t}‖x0 - x*‖ and a fitted rate equal to λ_min (flow.png);
with rank M < n the flow converges only along range(M): the null-space part of x0
never moves, and a linear term outside range(M) makes f unbounded below
(rank_deficient.png). Everything runs in float64.
"""

from __future__ import annotations

from experiments.quadratic.config import KEYS, get_config, validate
from nndl.run import cli

NAME = "quadratic"
SHEET = "seed 003 ex. 4.2"


def main(argv=None) -> int:
    from experiments.quadratic.run import run  # jax and the maths load only when an experiment runs

    return cli.run_experiment(NAME, doc=__doc__, get_config=get_config, run=run, keys=KEYS, validate=validate,
                              argv=argv)
