"""implicit_reg settings: --quick and --full defaults, one declared flag per key, cross-key checks."""

from __future__ import annotations

from nndl.data import teacher
from nndl.run import cli
from nndl.run.flags import Key


def get_config(full: bool = False) -> dict:
    config = {"seed": 0, "lrs": [0.02, 0.04, 0.08, 0.16], "seeds": 3, "data_draws": 2, "epochs": 8000,
              "batch_size": 20, "width": 50, "depth": 5, "n_train": 100, "n_val": 1000, "n_test": 2000,
              "noise": teacher.NOISE, "stop_loss": 1e-5,
              "weight_decays": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2], "wd_epochs": 2000, "chunk_epochs": 500}
    if full:
        config.update(seeds=5, data_draws=4, epochs=30000, wd_epochs=10000, chunk_epochs=1000)
    return config


KEYS = {
    "lrs": Key("SGD learning rates mu, e.g. 0.02,0.04,0.08,0.16", positive=True, unique=True),
    "seeds": Key("init seeds per (lr, data draw)", lo=1, hi=1000),
    "data_draws": Key("independently drawn training sets", lo=1, hi=1000),
    "epochs": Key("horizon of the implicit-only runs (each stops at --stop-loss)", lo=1, hi=10_000_000),
    "batch_size": Key("minibatch size B", lo=1, hi=1_000_000),
    "width": Key("hidden units M per layer", lo=1, hi=4096),
    "depth": Key("hidden layers", lo=1, hi=64),
    "n_train": Key("training points N", lo=1, hi=1_000_000),
    "n_val": Key("validation points per data draw (choosing the weight decay)", lo=1, hi=10_000_000),
    "n_test": Key("test points", lo=1, hi=10_000_000),
    "noise": Key("label noise standard deviation sigma", lo=0, hi=1e6),
    "stop_loss": Key("training MSE that counts as converged", positive=True, hi=1e6),
    "weight_decays": Key("explicit L2 strengths tried at every lr (the implicit-only runs have 0)", positive=True,
                         hi=1e6, unique=True),
    "wd_epochs": Key("horizon of the weight-decay runs", lo=1, hi=10_000_000),
    "chunk_epochs": Key("epochs per jitted call (progress and checkpoint granularity)", lo=1, hi=10_000_000),
}


def validate(config: dict) -> None:
    if config["batch_size"] > config["n_train"]:
        raise cli.UserError(f"--batch-size {config['batch_size']} exceeds N = {config['n_train']}")


def estimate(config: dict) -> cli.Estimate:
    """Memory and work of the two sweeps: lrs x data draws x seeds implicit-only runs for `epochs` (an upper bound:
    they stop at --stop-loss), and as many per weight decay for `wd_epochs`; minibatch SGD over N examples."""
    from nndl.models import padded_mlp

    runs = len(config["lrs"]) * config["data_draws"] * config["seeds"]
    width, depth, n = config["width"], config["depth"], config["n_train"]
    params = padded_mlp.param_count(width, d_in=teacher.D_IN, d_out=teacher.D_OUT, depth=depth)
    data = 4.0 * config["data_draws"] * (n + config["n_val"] + config["n_test"]) * (teacher.D_IN + teacher.D_OUT)
    activations = 2 * config["batch_size"] * width * (depth + 1)
    implicit = cli.Estimate.sweep(f"{runs} configs x width {width}^2 x {depth} layers x {config['epochs']} epochs",
                                  configs=runs, params=params, examples=n, steps=config["epochs"],
                                  activations=activations, recorded=400, data_bytes=data)
    decays = runs * len(config["weight_decays"])
    return implicit + cli.Estimate.sweep(f"{decays} weight-decay configs x {config['wd_epochs']} epochs",
                                         configs=decays, params=params, examples=n, steps=config["wd_epochs"],
                                         activations=activations, recorded=400)
