"""heteroscedastic settings: --quick and --full defaults, one declared flag per key, cross-key checks."""

from __future__ import annotations

from nndl.run import cli
from nndl.run.flags import Key
from nndl.train.mlp import ACTIVATIONS


def get_config(full: bool = False) -> dict:
    config = {
        "seed": 0,
        "data": None,               # None: the shipped data/x_y.csv (true mean and sigma known)
        "train_fraction": 0.66,
        "val_fraction": 0.2,        # (d): share of the training split held out for validation
        "hidden": [32, 64],
        "steps": 1000,              # full-batch Adam steps of every fit
        "lr": 1e-2,                 # (c) and the peak of the warm-up + cosine schedule
        # (d) learning-rate sweep: constant rates x seeds (and the schedule) in ONE engine run; too large /
        # too small = the nearest rates on either side of the best whose validation MSE is > 2 s.e. above
        # the best's AND at least fail_ratio times it (a failure visible in the curves, not a 1 % shortfall)
        "lr_grid": [1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 1.0],
        "lr_seeds": 1,
        "fail_ratio": 1.2,
        # (d) architecture exploration (nndl.sweep: one call per depth x activation), selected on validation
        "arch_depths": [2], "arch_activations": ["relu"], "arch_widths": [16, 64],
        "arch_weight_decays": [0.0, 1e-3], "arch_seeds": 1,
        "warmup_fraction": 0.1,
        "end_lr": 1e-5,
        "nll_lr": 3e-3,
        "var_floor": 1e-4,
    }
    if full:
        config.update(steps=20000, lr_grid=[1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0],
                      lr_seeds=3, arch_depths=[1, 2, 3], arch_activations=["relu", "tanh"],
                      arch_widths=[8, 16, 32, 64, 128], arch_weight_decays=[0.0, 1e-4, 1e-3, 1e-2], arch_seeds=3)
    return config


KEYS = {
    "data": Key("CSV with columns x,y; none = the shipped data/x_y.csv (true mean and sigma known)", kind=str,
                optional=True),
    "train_fraction": Key("share of the data in the training split (the rest is the test set)", positive=True,
                          hi=0.99),
    "val_fraction": Key("(d): share of the training split held out for validation", positive=True, hi=0.99),
    "hidden": Key("hidden widths of the (c)/(f) MLP, e.g. 32,64", lo=1, hi=4096),
    "steps": Key("full-batch Adam steps of every fit", lo=10, hi=10_000_000, why="a warm-up needs 10 steps"),
    "lr": Key("(c) learning rate and the peak of the warm-up + cosine schedule", positive=True),
    "lr_grid": Key("(d) constant learning rates swept, e.g. 1e-4,1e-3,1e-2,0.1,1", positive=True, unique=True),
    "lr_seeds": Key("(d) init seeds of the learning-rate sweep", lo=1, hi=1000),
    "fail_ratio": Key("(d) a rate fails when its validation MSE is this many times the best's (and > 2 s.e.)",
                      lo=1.0, hi=1e6),
    "arch_depths": Key("(d) architecture sweep: hidden layers", lo=1, hi=64, unique=True),
    "arch_activations": Key("(d) architecture sweep: activations", choices=tuple(ACTIVATIONS), unique=True),
    "arch_widths": Key("(d) architecture sweep: hidden widths", lo=1, hi=4096, unique=True),
    "arch_weight_decays": Key("(d) architecture sweep: weight decays", lo=0, hi=1e6, unique=True),
    "arch_seeds": Key("(d) architecture sweep: init seeds", lo=1, hi=1000),
    "warmup_fraction": Key("share of the steps spent warming up", positive=True, hi=1.0),
    "end_lr": Key("final learning rate of the cosine schedule", positive=True),
    "nll_lr": Key("(f) learning rate of the mean-and-variance network", positive=True),
    "var_floor": Key("(f) smallest predicted variance (softplus + floor)", positive=True, hi=1e6),
}


def validate(config: dict) -> None:
    if config["fail_ratio"] <= 1:
        raise cli.UserError(f"--fail-ratio: must be > 1, got {config['fail_ratio']:g}")


def estimate(config: dict) -> cli.Estimate:
    """Memory and work of the fits: (c) + the (d) learning-rate sweep (rates x seeds, every step recorded), the
    architecture sweep (padded to its widest and deepest net) and the (f) NLL fit, full batch for `steps` steps on
    the data's rows (a user's file: at most one row per 4 bytes)."""
    import os

    from nndl import data
    from nndl.models import padded_mlp

    rows = data.X_Y_ROWS if config["data"] is None else max(10, os.path.getsize(config["data"]) // 4)
    steps, hidden = config["steps"], config["hidden"]
    params = cli.Estimate.dense_params([1, *hidden, 1])
    rates = len(set(config["lr_grid"]) | {config["lr"]}) + 1
    fits = rates * config["lr_seeds"] + 2  # + the (c) model and the (f) NLL net
    regimes = cli.Estimate.sweep(f"{fits} fits x {params} parameters x {steps} steps", configs=fits, params=params,
                                 examples=rows, steps=steps, activations=2 * rows * sum(hidden),
                                 recorded=2 * steps, data_bytes=4.0 * (rates * steps + 4 * rows))
    width, depth = max(config["arch_widths"]), max(config["arch_depths"])
    archs = (len(config["arch_depths"]) * len(config["arch_activations"]) * len(config["arch_widths"])
             * len(config["arch_weight_decays"]) * config["arch_seeds"])
    return regimes + cli.Estimate.sweep(
        f"{archs} architectures x padded width {width}^2 x {depth} layers x {steps} steps", configs=archs,
        params=padded_mlp.param_count(width, d_in=1, d_out=1, depth=depth), examples=rows, steps=steps,
        activations=2 * rows * width * depth, recorded=4)
