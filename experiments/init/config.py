"""init settings: --quick and --full defaults, one declared flag per key, cross-key checks."""

from __future__ import annotations

import numpy as np

from nndl.run import cli
from nndl.run.flags import Key


def get_config(full: bool = False) -> dict:
    config = {
        "seed": 0,
        "m": 100, "sigma2": 0.03, "draws": 3000,  # (a)-(c)
        "width": 100, "layers": 50, "prop_draws": 128, "factors": [0.5, 1.0, 2.0],  # (d): sigma^2 = factor * 2/M
        # (e): sigma^2 grid, hidden units, networks per sigma^2, x grid
        "smooth_sigma2": [float(v) for v in np.logspace(-3, 2, 11)], "smooth_m": 100, "smooth_draws": 200,
        "x_max": 3.0, "grid": 401,
    }
    if full:
        config.update(draws=100_000, prop_draws=2000, smooth_draws=5000)
    return config


SE = "at least 2 draws for a standard error"
KEYS = {
    "m": Key("inputs M of the single neuron", lo=1, hi=10_000),
    "sigma2": Key("weight variance of the single-neuron Monte Carlo", positive=True, hi=1e6),
    "draws": Key("Monte Carlo draws for the single neuron", lo=2, hi=10_000_000, why=SE),
    "width": Key("units per layer M in (d)", lo=1, hi=4096),
    "layers": Key("depth L in (d)", lo=1, hi=100, why="2^L overflows float32 beyond ~127"),
    "prop_draws": Key("networks drawn in (d)", lo=2, hi=1_000_000, why=SE),
    "factors": Key("sigma^2 = factor * 2/M in (d), e.g. 0.5,1,2", positive=True, hi=2, unique=True,
                   why="factor^L overflows float32 beyond 2 at L = 100"),
    "smooth_sigma2": Key("weight variances sigma^2 in (e)", positive=True, hi=1e6, unique=True),
    "smooth_m": Key("hidden units in (e)", lo=1, hi=10_000),
    "smooth_draws": Key("networks per sigma^2 in (e)", lo=2, hi=1_000_000, why=SE),
    "x_max": Key("the x grid of (e) is [-x_max, x_max]", positive=True, hi=1e6),
    "grid": Key("points on the x grid of (e)", lo=2, hi=100_000),
}


def validate(config: dict) -> None:
    if len(config["smooth_sigma2"]) < 2:
        raise cli.UserError("--smooth-sigma2: need at least two weight variances to measure a slope")
