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
    "widths": Key("hidden widths M, e.g. 2:200:2 or 10,50,100", lo=1, hi=4096, unique=True),
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
    "curve_widths": Key("widths of the (b) training curves", lo=1, hi=4096, unique=True),
    "interp_tol": Key("training MSE below which a width interpolates", positive=True, hi=1e6),
    "settle_tol": Key("relative change over the last 10 % of epochs that counts as settled", positive=True, hi=1e6),
    "n_buckets": Key("max number of width buckets (padding vs compile time)", lo=1, hi=64, flag="--buckets"),
    "chunk_epochs": Key("epochs per jitted call (progress and checkpoint granularity)", lo=1, hi=10_000_000),
}


def validate(config: dict) -> None:
    if config["n_train_large"] <= config["n_train"]:
        raise cli.UserError(f"--n-train-large {config['n_train_large']} must exceed --n-train {config['n_train']}")
    if config["batch_size"] is not None and config["batch_size"] > config["n_train"]:
        raise cli.UserError(f"--batch-size {config['batch_size']} exceeds --n-train {config['n_train']}")


PLAN_WIDTHS = 256


def estimate(config: dict) -> cli.Estimate:
    """Memory and work of the sweep: 2 sizes x widths x data draws x seeds configs, each padded to its width
    bucket's widest (the buckets the sweep will use), full-batch (or minibatch) Adam for `epochs` epochs."""
    from nndl.models import padded_mlp
    from nndl.sweep import padded_cost, plan_buckets

    widths = sorted(set(config["widths"]))
    runs = 2 * config["data_draws"] * config["seeds"]  # configs per width (each width weighs the same)
    n, depth = config["n_train_large"], 2

    def flops(w):  # forward FLOPs per example
        return padded_mlp.flops_per_example(w, d_in=teacher.D_IN, d_out=teacher.D_OUT, depth=depth)

    def params(w):
        return padded_mlp.param_count(w, d_in=teacher.D_IN, d_out=teacher.D_OUT, depth=depth)

    # the buckets the sweep will plan (padded cost); beyond PLAN_WIDTHS distinct widths planning alone takes
    # minutes, so the unpadded cost stands in: a lower bound, which refuses only what cannot fit even unpadded
    buckets = plan_buckets(widths, config["n_buckets"], flops) if len(widths) <= PLAN_WIDTHS else [[w] for w in widths]
    executed = runs * padded_cost(widths, buckets, flops)[1]
    carried = runs * padded_cost(widths, buckets, params)[1]  # parameters, padded, over every config
    configs, batch, top = runs * len(widths), config["batch_size"] or n, max(widths)
    data = 4.0 * config["data_draws"] * (n + config["n_test"]) * (teacher.D_IN + teacher.D_OUT)
    return cli.Estimate(bytes=4.0 * (4 * carried + configs * (2 * batch * top * (depth + 1) + 400)) + data,
                        flops=3.0 * executed * (n + config["n_train"]) / 2 * config["epochs"],
                        what=f"{configs} configs x padded widths up to {top}^2 x {config['epochs']} epochs")
