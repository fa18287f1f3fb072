"""autodiff settings: --quick and --full defaults, one declared flag per key, the overflow check of the point."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from experiments.autodiff import functions
from nndl.run import cli
from nndl.run.flags import Key


def get_config(full: bool = False) -> dict:
    config = {"seed": 0, "x": 0.0, "a": 2.0, "b": 3.0,
              # Jacobian cost: (n, m) = (big, 1), (1, big), (square, square); f has one hidden tanh layer.
              "jac_big": 1000, "jac_square": 300, "jac_hidden": 256, "jac_repeats": 7}
    if full:
        config.update(jac_big=4000, jac_square=1000, jac_hidden=512, jac_repeats=15)
    return config


KEYS = {
    "x": Key("point for dy/dx", lo=-1e6, hi=1e6),
    "a": Key("point a for dz/da, dz/db", lo=-1e6, hi=1e6),
    "b": Key("point b > 0 for dz/da, dz/db", positive=True, hi=1e6, why="log b is undefined for b <= 0"),
    "jac_big": Key("large dimension of the n>>m and m>>n Jacobians", lo=1, hi=100_000),
    "jac_square": Key("n = m of the square Jacobian", lo=1, hi=10_000),
    "jac_hidden": Key("hidden width of the timed f", lo=1, hi=4096),
    "jac_repeats": Key("timed calls per Jacobian, median reported", lo=1, hi=1000),
}


def validate(config: dict) -> None:
    # A point where a value or derivative overflows float64 cannot be compared; say so up front.
    with jax.enable_x64(True):
        y_ok, z_ok = jax.jit(finite)(*(np.float64(config[k]) for k in ("x", "a", "b")))
    if not y_ok:
        raise cli.UserError(f"--x {config['x']:g}: y(x) or dy/dx overflows float64 "
                            "(exp(e^x + e^2x) > 1.8e308); use x < 3.2")
    if not z_ok:
        raise cli.UserError(f"--a {config['a']:g} --b {config['b']:g}: z or its derivatives overflow "
                            "float64 (e^(a^2), b^2 or 1/b out of range)")


def finite(x, a, b):
    """Whether y, dy/dx are finite at x, and z, dz/da, dz/db at (a, b)."""
    y_parts = jnp.stack([functions.y(x), functions.dydx(x)])
    z_parts = jnp.stack([functions.z(a, b), functions.dzda(a, b), functions.dzdb(a, b)])
    return jnp.all(jnp.isfinite(y_parts)), jnp.all(jnp.isfinite(z_parts))
