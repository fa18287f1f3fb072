"""backprop settings: --quick and --full defaults, one declared flag per key (size bounds with reasons), --lr < 1."""

from __future__ import annotations

from nndl import activations
from nndl.run import cli
from nndl.run.flags import Key, rows_parser


def get_config(full: bool = False) -> dict:
    config = {
        "seed": 0,
        "batch": 7,
        # (I, O, K, L, psi) for the gradient check
        "grad_cases": [[3, 1, 1, 4, "relu"], [5, 2, 2, 8, "tanh"], [4, 3, 3, 6, "sigmoid"],
                       [6, 4, 4, 10, "relu"]],
        # (I, O, K, L, batch) for the FLOP table
        "flop_grid": [[16, 4, 2, 32, 8], [32, 10, 3, 64, 16], [64, 10, 2, 128, 32], [128, 10, 4, 256, 64]],
        # seed 002: x in R^n, d hidden units, yhat in R^K, N points
        "n": 4, "hidden": 8, "k": 3, "n_points": 32, "lr": 0.01, "steps": 200,
    }
    if full:
        config["grad_cases"] = config["grad_cases"] + [[2, 5, 2, 3, "tanh"], [8, 6, 6, 32, "sigmoid"]]
        config["flop_grid"] = config["flop_grid"] + [
            [784, 10, 2, 512, 128], [256, 16, 8, 512, 256], [1024, 100, 4, 1024, 256]]
        config.update(steps=2000)
    return config


# Size bounds: the FLOP table builds zero arrays of every shape (K layers of L x L floats), the gradient check
# draws them; these caps keep the largest within a few GB.
FLOP_FIELDS = {"I": Key(lo=1, hi=16_384), "O": Key(lo=1, hi=16_384), "K": Key(lo=1, hi=32), "L": Key(lo=1, hi=4096),
               "B": Key(lo=1, hi=65_536)}
CASE_FIELDS = {"I": Key(lo=1, hi=1024), "O": Key(lo=1, hi=1024), "K": Key(lo=1, hi=32), "L": Key(lo=1, hi=1024),
               "psi": Key(choices=activations.NAMES)}
KEYS = {
    "batch": Key("examples in the gradient check", lo=1, hi=100_000),
    "grad_cases": Key("gradient-check nets I,O,K,L,psi;... (psi: " + ", ".join(activations.NAMES) + ")",
                      parse=rows_parser(CASE_FIELDS)),
    "flop_grid": Key("sizes I,O,K,L,B;... for the FLOP table", parse=rows_parser(FLOP_FIELDS)),
    "n": Key("inputs n of seed 002's net", lo=1, hi=10_000),
    "hidden": Key("hidden units d of seed 002's net", lo=1, hi=10_000),
    "k": Key("outputs K of seed 002's net", lo=1, hi=10_000),
    "n_points": Key("training points N of seed 002's net", lo=1, hi=1_000_000),
    "lr": Key("SGD learning rate (< 1)", positive=True),
    "steps": Key("SGD steps on seed 002's net", lo=1, hi=10_000_000),
}


def validate(config: dict) -> None:
    if config["lr"] >= 1:
        raise cli.UserError(f"--lr {config['lr']:g}: must be < 1 "
                            "(full-batch SGD on this net diverges well before that)")
