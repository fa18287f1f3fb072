"""adam settings: --quick and --full defaults, one declared flag per key, cross-key checks; the names of the grids."""

from __future__ import annotations

from nndl.run import cli
from nndl.run.flags import Key

VARIANTS = ("uncorrected", "bias_corrected", "warmup_uncorrected", "warmup_bias_corrected")
TASKS = ("one_var", "two_var", "classification")
OPTIMISERS = ("sgd", "adam")


def get_config(full: bool = False) -> dict:
    config = {
        "seed": 0,
        # first step and effective step size (seed 000 §2 (b), (c))
        "dim": 1000, "grad_scale": 1e-3, "lr": 1e-3, "b1": 0.9, "b2": 0.999, "eps": 1e-8,
        "eps_sweep": [1e-2, 1e-3, 1e-4, 1e-6, 1e-8, 1e-12],
        "effective_steps": 50, "long_steps": 5000,
        "warmup_steps": 2000,       # the untuned rule 2 / (1 - b2) (Ma & Yarats, 2021)
        # AdamW vs L2 in the loss (seed 000 §2 (d))
        "feature_scales": [0.1, 10.0], "n_features": 8, "n_train": 100, "n_test": 1000, "noise": 0.1,
        "hidden": [64, 64], "lambdas": [1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0], "probe_lambda": 0.1,
        "decay_lr": 3e-3, "decay_steps": 2000,
        # SGD vs Adam (seed 003 ex. 4.3)
        "n_points": 200, "train_share": 0.8, "epochs": 100, "batch_size": 16,
        "sgd_lr": 0.05, "adam_lr": 0.05, "tolerance": 0.01,
    }
    if full:
        config.update(n_train=1000, n_test=10000, decay_steps=20000, n_points=2000, epochs=500)
    return config


KEYS = {
    # first step and effective step size
    "dim": Key("coordinates of the random gradient", lo=1, hi=10_000_000),
    "grad_scale": Key("std of the random gradient's coordinates", positive=True, hi=1e6),
    "lr": Key("Adam lr of the first-step study", positive=True),
    "b1": Key("Adam b1 in [0, 1)", lo=0, hi=1),
    "b2": Key("Adam b2 in [0, 1)", lo=0, hi=1),
    "eps": Key("Adam epsilon", positive=True, hi=1e6),
    "eps_sweep": Key("epsilons of the effective-step sweep", positive=True, hi=1e6, unique=True),
    "effective_steps": Key("steps of the effective step-size study", lo=1, hi=1_000_000),
    "long_steps": Key("steps of the long constant-gradient run (>= effective steps)", lo=1, hi=10_000_000),
    "warmup_steps": Key("linear warm-up length", lo=1, hi=10_000_000),
    # AdamW vs L2 in the loss
    "feature_scales": Key("the two ends of the log-spaced input feature scales, e.g. 0.1,10", positive=True,
                          hi=1e6),
    "n_features": Key("input features", lo=1, hi=10_000),
    "n_train": Key("training points of the weight-decay study", lo=1, hi=1_000_000),
    "n_test": Key("test points of the weight-decay study", lo=1, hi=10_000_000),
    "noise": Key("label noise standard deviation", lo=0, hi=1e6),
    "hidden": Key("hidden widths of the MLP, e.g. 64,64", lo=1, hi=4096),
    "lambdas": Key("weight decays, e.g. 1e-3,1e-2", positive=True, hi=1e6, unique=True),
    "probe_lambda": Key("the weight decay whose curves are shown (one of --lambdas)", positive=True, hi=1e6),
    "decay_lr": Key("Adam/AdamW learning rate of the weight-decay study", positive=True),
    "decay_steps": Key("steps of the weight-decay study", lo=1, hi=10_000_000),
    # SGD vs Adam
    "n_points": Key("points per task", lo=2, hi=1_000_000),
    "train_share": Key("share of each task's points that train, in (0, 1)", positive=True, hi=1),
    "epochs": Key("epochs of SGD and Adam", lo=1, hi=1_000_000),
    "batch_size": Key("minibatch size", lo=1, hi=1_000_000),
    "sgd_lr": Key("SGD learning rate", positive=True),
    "adam_lr": Key("Adam learning rate", positive=True),
    "tolerance": Key("relative distance to the optimum that counts as reached", positive=True, hi=1e6),
}


def validate(config: dict) -> None:
    for key in ("b1", "b2"):
        if not 0 <= config[key] < 1:
            raise cli.UserError(f"--{key}: must be in [0, 1), got {config[key]:g}")
    if config["long_steps"] < config["effective_steps"]:
        raise cli.UserError(f"--long-steps: must be >= {config['effective_steps']}, got {config['long_steps']}")
    if config["probe_lambda"] not in config["lambdas"]:
        raise cli.UserError(f"--probe-lambda: {config['probe_lambda']:g} is not one of --lambdas")
    if len(config["feature_scales"]) != 2:
        raise cli.UserError(f"--feature-scales: give the two ends, got {len(config['feature_scales'])} values")
    n_train = int(config["train_share"] * config["n_points"])
    if n_train >= config["n_points"]:
        raise cli.UserError(f"--train-share {config['train_share']:g}: leaves no test points of the "
                            f"{config['n_points']} (--n-points)")
    if not config["batch_size"] <= n_train:
        raise cli.UserError(f"--batch-size: {config['batch_size']} exceeds the {n_train} training points "
                            f"(--n-points {config['n_points']})")


def estimate(config: dict) -> cli.Estimate:
    """Memory and work of the AdamW-vs-L2 sweep (no decay + 2 methods x lambdas, full batch), the SGD-vs-Adam
    sweep (3 tasks x 2 optimisers, linear models) and the constant-gradient runs (4 variants x dim coordinates)."""
    params = cli.Estimate.dense_params([config["n_features"], *config["hidden"], 1])
    n, n_test = config["n_train"], config["n_test"]
    decay = cli.Estimate.sweep(
        f"{1 + 2 * len(config['lambdas'])} decay configs x {params} parameters x {config['decay_steps']} steps",
        configs=1 + 2 * len(config["lambdas"]), params=params, examples=n + n_test / config["decay_steps"],
        steps=config["decay_steps"], activations=2 * (n + n_test) * sum(config["hidden"]),
        data_bytes=4.0 * (n + n_test) * (config["n_features"] + 1))
    linear = cli.Estimate.sweep(f"6 linear configs x {config['epochs']} epochs", configs=6, params=3,
                                examples=config["n_points"], steps=config["epochs"],
                                recorded=4 * config["epochs"], data_bytes=4.0 * 3 * config["n_points"] * 3)
    constant = cli.Estimate(bytes=4.0 * config["dim"] * (8 + len(config["eps_sweep"])) + 16.0 * config["long_steps"],
                            flops=40.0 * config["dim"] * config["long_steps"],
                            what=f"{config['long_steps']} steps x {config['dim']} coordinates")
    return decay + linear + constant
