"""quadratic settings: --quick and --full defaults, one declared flag per key, cross-key checks."""

from __future__ import annotations

import math

from nndl.run import cli
from nndl.run.flags import Key

# RK4 and GD step counts follow from λ_max/λ_min; beyond this the trajectories would not fit in memory.
MAX_STEPS = 1_000_000
# GD counts as converged when its relative error is below this at the end of the horizon
# (a stable run reaches about e^{-horizon} there).
GD_CONVERGED = 1e-3


def get_config(full: bool = False) -> dict:
    config = {"seed": 0, "n": 8, "N": 32, "rank_deficient_N": 4,
              "horizon": 20.0,      # simulate until t = horizon / λ_min(M)
              "n_times": 200,       # time grid of the exact flow
              "rk4_h": 0.2,         # RK4 step dt = rk4_h / λ_max
              "gd_h": [0.5, 1.0, 1.9, 2.05],  # GD learning rates η = h / λ_max
              "n_directions": 1000}  # random v for min vᵀMv / ‖v‖²
    if full:
        config.update(n=50, N=200, rank_deficient_N=25, n_times=1000, rk4_h=0.05, n_directions=20000)
    return config


KEYS = {
    "n": Key("dimension n", lo=2, hi=1000, why="a rank-deficient case needs n > 1"),
    "N": Key("number of vectors xᵢ, >= n", lo=1, hi=100_000),
    "rank_deficient_N": Key("number of vectors in the rank-deficient case, < n", lo=1, hi=100_000),
    "horizon": Key("simulated time in units of 1/λ_min", positive=True, hi=1e6),
    "n_times": Key("points on the time grid", lo=10, hi=100_000, why="to fit a decay rate"),
    "rk4_h": Key("RK4 step in units of 1/λ_max", positive=True, hi=2.5, why="RK4 is unstable beyond λ dt ≈ 2.79"),
    "gd_h": Key("GD learning rates in units of 1/λ_max (GD diverges beyond 2), e.g. 0.5,1,1.9,2.05", positive=True,
                hi=10, unique=True),
    "n_directions": Key("random directions for the quadratic-form check", lo=1, hi=1_000_000),
}


def validate(config: dict) -> None:
    n = config["n"]
    if config["N"] < n:
        raise cli.UserError(f"--N must be >= --n = {n}: the full-rank case needs N >= n vectors, got {config['N']}")
    if config["rank_deficient_N"] >= n:
        raise cli.UserError(f"--rank-deficient-N must be < --n = {n}, got {config['rank_deficient_N']}")


def step_counts(config: dict, lam_min: float, lam_max: float) -> tuple[int, int]:
    """RK4 and GD steps to reach t = horizon/λ_min (shapes, so computed on the host from the spectrum).

    Raises:
      cli.UserError: more than MAX_STEPS steps would be needed.
    """
    horizon = config["horizon"]
    n_rk4 = math.ceil(horizon * lam_max / lam_min / config["rk4_h"])
    n_gd = math.ceil(horizon * lam_max / lam_min / min(config["gd_h"]))
    for flag, steps in (("--rk4-h", n_rk4), ("--gd-h", n_gd)):
        if steps > MAX_STEPS:
            raise cli.UserError(f"{flag}: {steps} steps would be needed to reach t = horizon/λ_min "
                                f"(λ_max/λ_min = {lam_max / lam_min:.3g}); at most {MAX_STEPS} (raise {flag} "
                                f"or lower --horizon)")
    return n_rk4, n_gd
