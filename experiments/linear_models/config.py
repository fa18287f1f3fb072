"""linear_models settings: --quick and --full defaults, one declared flag per key, cross-key checks."""

from __future__ import annotations

from nndl.run import cli
from nndl.run.flags import Key

AXES = ("batch_size", "lr", "epochs", "alpha")  # grid order: the first varies slowest
CONFIG_AXES = ("batch_sizes", "lrs", "epochs", "alphas")  # their config keys


def get_config(full: bool = False) -> dict:
    config = {
        "seed": 0,
        "data_dir": None,                # None: data/ of the repository
        "synthetic_train_rows": 5000, "synthetic_test_rows": 2500, "synthetic_side": 48,
        "val_fraction": 0.2,
        # Extended until the validation optimum is interior on batch size, lr and epochs (on the
        # synthetic stand-in, seed 0): a first 4^4 grid chose batch 16 = min, 16 epochs = max, alpha = min.
        # alpha starts at its natural bound 0: the validation MSE rises with alpha from there.
        "batch_sizes": [8, 16, 32, 64],
        "lrs": [3e-5, 1e-4, 3e-4, 1e-3],
        "epochs": [8, 16, 32, 64],
        "alphas": [0.0, 1e-3, 1e-2, 1e-1, 1.0],
        "chunk_epochs": 4,
        "n_record": 8,
        "loop_per_cell": 1,              # standalone runs timed per (batch size, epochs) cell; 0: all configs
        "xor_lr": 0.5, "xor_steps": 200,
        "mae_n": 200, "mae_noise": 0.1, "mae_outlier_fraction": 0.1, "mae_outlier_shift": [4.0, 8.0],
        "mae_lr": 0.5, "mae_steps": 1000,   # MAE-GD: lr / sqrt(1 + t) (subgradient steps must shrink)
        "mle_n": 500, "mle_weights": [1.5, -2.0, 0.5], "mle_bias": 1.0, "mle_noise": 0.5,
        "mle_lr": 0.2, "mle_steps": 500,
        "logistic_n": 40, "logistic_gap": 0.3, "logistic_lr": 1.0, "logistic_steps": 100_000,
    }
    if full:
        config.update(batch_sizes=[4, 8, 16, 32, 64, 128], lrs=[1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3],
                      epochs=[8, 16, 24, 32, 48, 64, 128], alphas=[0.0, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0],
                      chunk_epochs=8,
                      n_record=20, loop_per_cell=0, logistic_steps=1_000_000)
    return config


MAX_SYNTHETIC = 10**9  # floats of the synthetic stand-in (rows x side^2): 4 GB
KEYS = {
    "data_dir": Key("folder with age_regression_{Xtr,ytr,Xte,yte}.npy (none: data/; else synthetic)", kind=str,
                    optional=True),
    "synthetic_train_rows": Key("training images of the synthetic stand-in", lo=1, hi=1_000_000),
    "synthetic_test_rows": Key("test images of the synthetic stand-in", lo=1, hi=1_000_000),
    "synthetic_side": Key("image side of the synthetic stand-in (features = side^2)", lo=1, hi=512),
    "val_fraction": Key("share of the training files held out for validation, in (0, 1)", positive=True, hi=1),
    "batch_sizes": Key("grid of batch sizes", lo=1, hi=1_000_000, unique=True),
    "lrs": Key("grid of SGD learning rates", positive=True, unique=True),
    "epochs": Key("grid of epoch budgets", lo=1, hi=100_000, unique=True),
    "alphas": Key("grid of ridge strengths alpha (0 allowed)", lo=0, hi=1e6, unique=True),
    "chunk_epochs": Key("epochs per jitted call (progress and checkpoint granularity)", lo=1, hi=100_000),
    "n_record": Key("points recorded on each learning curve", lo=1, hi=10_000),
    "loop_per_cell": Key("standalone runs timed per (batch size, epochs) cell, 0 = every config", lo=0, hi=10_000),
    "xor_lr": Key("gradient-descent learning rate of the XOR fit", positive=True),
    "xor_steps": Key("gradient-descent steps of the XOR fit", lo=1, hi=10_000_000),
    "mae_n": Key("points of the MAE-vs-MSE data", lo=2, hi=1_000_000),
    "mae_noise": Key("label noise std of the MAE-vs-MSE data", lo=0, hi=1e6),
    "mae_outlier_fraction": Key("share of the points shifted into outliers", lo=0, hi=1),
    "mae_outlier_shift": Key("low,high of the outliers' uniform shift", lo=-1e6, hi=1e6),
    "mae_lr": Key("MAE subgradient learning rate (decays as lr / sqrt(1 + t))", positive=True),
    "mae_steps": Key("MAE subgradient steps", lo=1, hi=10_000_000),
    "mle_n": Key("points of the Gaussian-MLE data", lo=2, hi=1_000_000),
    "mle_weights": Key("true weights of the Gaussian-MLE data, e.g. 1.5,-2,0.5", lo=-1e6, hi=1e6),
    "mle_bias": Key("true bias of the Gaussian-MLE data", lo=-1e6, hi=1e6),
    "mle_noise": Key("noise std of the Gaussian-MLE data", positive=True, hi=1e6),
    "mle_lr": Key("gradient-descent learning rate of the MLE fit", positive=True),
    "mle_steps": Key("gradient-descent steps of the MLE fit", lo=1, hi=10_000_000),
    "logistic_n": Key("points of the separable logistic data", lo=2, hi=1_000_000),
    "logistic_gap": Key("margin gap of the separable logistic data", lo=0, hi=1e6),
    "logistic_lr": Key("gradient-descent learning rate of the logistic fit", positive=True),
    "logistic_steps": Key("gradient-descent steps of the logistic fit", lo=100, hi=100_000_000,
                          why="need at least 100 to see growth"),
}


def validate(config: dict) -> None:
    if not 0 < config["val_fraction"] < 1:
        raise cli.UserError(f"--val-fraction: must be in (0, 1), got {config['val_fraction']:g}")
    shift = config["mae_outlier_shift"]
    if len(shift) != 2 or not shift[0] < shift[1]:
        raise cli.UserError(f"--mae-outlier-shift: give low,high with low < high, got {','.join(map(str, shift))}")
    floats = (config["synthetic_train_rows"] + config["synthetic_test_rows"]) * config["synthetic_side"] ** 2
    if floats > MAX_SYNTHETIC:
        raise cli.UserError(f"--synthetic-train-rows/--synthetic-test-rows/--synthetic-side: the synthetic stand-in "
                            f"would hold {floats:.3g} floats; at most {MAX_SYNTHETIC:.0e}")


def estimate(config: dict) -> cli.Estimate:
    """Memory and work of the ridge grid (batch sizes x lrs x epochs x alphas, minibatch SGD over the training
    rows, run again as standalone runs when --loop-per-cell is 0) and the gradient-descent fits. The features and
    rows are the synthetic stand-in's, or read from the .npy header of a --data-dir file."""
    import math

    rows, features = config["synthetic_train_rows"], config["synthetic_side"] ** 2
    if config["data_dir"] is not None:
        import numpy as np

        try:
            shape = np.load(f"{config['data_dir']}/age_regression_Xtr.npy", mmap_mode="r").shape
            rows, features = shape[0], math.prod(shape[1:])
        except (OSError, ValueError):
            pass  # no (usable) file: the loader reports it, or the synthetic stand-in runs
    configs = math.prod(len(config[k]) for k in CONFIG_AXES)
    passes = 1 if config["loop_per_cell"] else 2  # 0: every config again as a standalone run, timed
    grid = cli.Estimate.sweep(f"{configs} configs x {features} features x {max(config['epochs'])} epochs",
                              configs=configs * passes, params=features + 1, examples=rows,
                              steps=max(config["epochs"]), recorded=4 * config["n_record"],
                              data_bytes=8.0 * 3 * rows * features + 4.0 * config["synthetic_test_rows"] * features)
    fits = cli.Estimate(bytes=8.0 * 4 * (config["logistic_steps"] + config["mae_n"] + config["mle_n"]),
                        flops=12.0 * (config["logistic_steps"] * config["logistic_n"] + 2 * config["mae_steps"]
                                      * config["mae_n"] + config["mle_steps"] * config["mle_n"] * 4),
                        what=f"{config['logistic_steps']} logistic steps")
    return grid + fits
