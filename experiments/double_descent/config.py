"""double_descent settings: --quick and --full defaults, one declared flag per key, cross-key checks."""

from __future__ import annotations

from nndl.data import teacher
from nndl.run import cli
from nndl.run.flags import Key


def get_config(full: bool = False) -> dict:
    config = {"seed": 0, "widths": list(range(2, 65, 2)) + [72, 80, 90, 100, 120, 200],
              "seeds": 3, "data_draws": 2, "epochs": 6000, "lr": 1e-3, "n_train": 100, "n_train_large": 200,
              "batch_size": None, "n_test": 2000, "noise": teacher.NOISE, "curve_widths": [10, 50, 100],
              "interp_tol": 1e-2, "settle_tol": 0.05, "n_buckets": 5, "chunk_epochs": 500}
    if full:
        config.update(widths=list(range(2, 201)), seeds=5, data_draws=4, epochs=20000, n_buckets=6,
                      chunk_epochs=1000)
    return config


KEYS = {
    "widths": Key("hidden widths M, e.g. 2:200:2 or 10,50,100", lo=1, hi=4096),
    "seeds": Key("init seeds per (width, N, data draw)", lo=1, hi=1000),
    "data_draws": Key("independently drawn training sets", lo=1, hi=1000),
    "epochs": Key("full-batch Adam epochs", lo=1, hi=10_000_000),
    "lr": Key("Adam learning rate", positive=True),
    "n_train": Key("training points N", lo=1, hi=1_000_000),
    "n_train_large": Key("the larger training set of (d)", lo=2, hi=1_000_000),
    "batch_size": Key("minibatch size; none = N (full batch, as the sheet asks)", kind=int, optional=True, lo=1,
                      hi=1_000_000),
    "n_test": Key("test points", lo=1, hi=10_000_000),
    "noise": Key("label noise standard deviation sigma", lo=0, hi=1e6),
    "curve_widths": Key("widths of the (b) training curves", lo=1, hi=4096),
    "interp_tol": Key("training MSE below which a width interpolates", positive=True),
    "settle_tol": Key("relative change over the last 10 % of epochs that counts as settled", positive=True),
    "n_buckets": Key("max number of width buckets (padding vs compile time)", lo=1, hi=64, flag="--buckets"),
    "chunk_epochs": Key("epochs per jitted call (progress and checkpoint granularity)", lo=1, hi=10_000_000),
}


def validate(config: dict) -> None:
    if config["n_train_large"] <= config["n_train"]:
        raise cli.UserError(f"--n-train-large {config['n_train_large']} must exceed --n-train {config['n_train']}")
    if config["batch_size"] is not None and config["batch_size"] > config["n_train"]:
        raise cli.UserError(f"--batch-size {config['batch_size']} exceeds --n-train {config['n_train']}")
