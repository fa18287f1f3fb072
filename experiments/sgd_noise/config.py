"""sgd_noise settings: --quick and --full defaults, one declared flag per key, cross-key checks."""

from __future__ import annotations

from nndl import data
from nndl.run import cli
from nndl.run.flags import Key


def get_config(full: bool = False) -> dict:
    config = {
        "seed": 0,
        "ns": [10, 100, 1000, 10000],
        "trials": 4000,                          # simulated epochs per n (std error ~0.0076)
        "batch_sizes": [1, 2, 4, 8, 16, 32, 64],
        "grad_trials": 2000,                     # minibatch draws per batch size
        "hidden": [32, 64],
        "base_batch": 4, "base_lr": 0.01, "ks": [1, 2, 4, 8, 16],
    }
    if full:
        config.update(trials=200_000, grad_trials=20_000)
    return config


ROWS = f"below the {data.X_Y_ROWS} examples of data/x_y.csv"
KEYS = {
    "ns": Key("population sizes n, e.g. 10,100", lo=2, hi=100_000, unique=True),
    "trials": Key("simulated epochs per n", lo=2, hi=100_000_000, why="at least 2 draws for a standard error"),
    "batch_sizes": Key("batch sizes B of the gradient-noise slope (at least two)", lo=1, hi=data.X_Y_ROWS - 1,
                       unique=True, why=ROWS),
    "grad_trials": Key("minibatch draws per batch size", lo=2, hi=10_000_000,
                       why="at least 2 draws for a standard error"),
    "hidden": Key("hidden widths of the MLP whose gradients are sampled", lo=1, hi=4096),
    "base_batch": Key("batch size of the linear-scaling rule", lo=1, hi=data.X_Y_ROWS - 1, why=ROWS),
    "base_lr": Key("learning rate at the base batch", positive=True),
    "ks": Key("batch multipliers k, e.g. 1,2,4", lo=1, hi=data.X_Y_ROWS - 1, unique=True),
}


def validate(config: dict) -> None:
    if len(config["batch_sizes"]) < 2:
        raise cli.UserError("--batch-sizes: need at least two batch sizes to fit a slope")
    largest = max(max(config["batch_sizes"]), config["base_batch"] * max(config["ks"]))
    if largest >= data.X_Y_ROWS:
        raise cli.UserError(f"batch size {largest} must be below the {data.X_Y_ROWS} examples of data/x_y.csv "
                            f"(check --batch-sizes, --base-batch and --ks)")
