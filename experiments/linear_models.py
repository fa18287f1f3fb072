"""Linear models: XOR least squares, ridge SGD grid search in one call, MAE gradients, Gaussian MLE, separable logistic.

Run: python -m experiments.linear_models [--quick|--full] [--data-dir DIR] [--out DIR] [--seed N]
Shows (seed 004 Q2-Q5, seed 002):
  Q2  the least-squares linear fit of XOR is flat: w = (0, 0), b = 1/2, J = 1/4, by the normal
      equations and by gradient descent (xor.png);
  Q3  L2-regularised linear regression y_hat = x.w + b (w penalised, b not) by minibatch SGD: a grid
      over batch size x learning rate x epochs x alpha trained in ONE jitted call per chunk of epochs
      by the sweep engine (one bucket per batch size, horizons masked exactly), selected on a 20 %
      validation split, the chosen config's unregularised test MSE, the closed-form ridge solution for
      the same alpha, validation-MSE heat maps (grid_search.png), and the one-call vs Python-loop time;
  Q4  the hand-written MAE gradients (n+ - n-)/n and (1/n)(sum_{y_hat>y} x - sum_{y_hat<y} x) equal
      jax.grad (and the d|t|/dt = 0 at t = 0 convention, which jnp.abs does not follow); MAE-GD vs
      MSE-GD on data with outliers (mae.png);
  Q5  the linear-Gaussian MLE in closed form equals gradient ascent on the log-likelihood and the
      MSE-optimal weights (mle.png);
  002 on separable data, GD on the logistic loss drives ||w|| to infinity like log t while w/||w||
      turns to the hard-margin direction; L(c w_hat) falls with c (separable_logistic.png).
Data (Q3): the four files age_regression_{Xtr,ytr,Xte,yte}.npy from --data-dir (default data/) when
present (48x48 face images, ages); otherwise the synthetic stand-in `nndl.data.make_age_regression`
(5,000 / 2,500 rows, 2,304 features). Inputs are standardised with the training part's per-pixel mean
and std, targets centred by its mean age (so plain learning rates are stable and b starts near its
optimum); the same transform is applied to validation and test data, and MSEs are in years^2.
"""

from __future__ import annotations

import sys
import time
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from nndl import data, linear, linear_gaussian, mae, max_margin, regression, stats, sweep
from nndl.run import cli, progress, runio, templates
from nndl.train import ridge as ridge_sweep
from nndl.run.checks import check
from nndl.run.flags import Key
from nndl.run.plotting import plt, save_figure, subplots

NAME = "linear_models"
SHEET = "seed 004 Q2-Q5, seed 002"
DATA_DIR = Path(__file__).resolve().parents[1] / "data"
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


# ------------------------------------------------------------------ Q2: XOR
# Each part's JAX work is ONE jitted function: eager op-by-op dispatch would compile every small op.
@partial(jax.jit, static_argnames="steps")
def xor_descent(x: jax.Array, y: jax.Array, lr, *, steps: int):
    """GD on J(w, b) = mean (x.w + b - y)^2 from zero: (final params, J before each step, params before each step)."""
    start = {"w": jnp.zeros(x.shape[1]), "b": jnp.zeros(())}
    return linear.gradient_descent(lambda p: linear.mse(p, x, y), start, lr, steps, record=lambda p: p)


@jax.jit
def xor_stationarity(x: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    """jax.grad of J at the hand-derived (w1, w2, b) = (0, 0, 1/2), and J's Hessian in (w1, w2, b)."""
    def cost(theta):
        return linear.mse({"w": theta[:2], "b": theta[2]}, x, y)

    solution = jnp.array([0.0, 0.0, 0.5], x.dtype)
    return jax.grad(cost)(solution), jax.hessian(cost)(solution)


def run_xor(config: dict) -> tuple[dict, dict]:
    closed = linear.normal_equations(linear.XOR_X, linear.XOR_Y)
    x, y = np.float32(linear.XOR_X), np.float32(linear.XOR_Y)
    final, curve, path = xor_descent(x, y, config["xor_lr"], steps=config["xor_steps"])
    grad, hessian = jax.device_get(xor_stationarity(x, y))
    metrics = {"w": closed["w"], "b": closed["b"], "J": linear.numpy_mse(closed, linear.XOR_X, linear.XOR_Y),
               "grad_at_solution_max_abs": float(np.max(np.abs(grad))), "hessian": hessian,
               "hessian_eigenvalues": np.linalg.eigvalsh(np.float64(hessian)),
               "gd": {"w": final["w"], "b": final["b"], "J": linear.numpy_mse(final, x, y),
                      "lr": config["xor_lr"], "steps": config["xor_steps"]}}
    return metrics, {"xor_J": curve, "xor_w": path["w"], "xor_b": path["b"]}


# --------------------------------------------------- Q3: ridge SGD grid search
def load_age_data(config: dict) -> tuple[dict, str]:
    """The real files when --data-dir holds them, else the synthetic stand-in ("real" / "synthetic")."""
    folder = config["data_dir"] if config["data_dir"] is not None else DATA_DIR
    raw = data.load_age_regression(folder)
    if raw is not None:
        return raw, "real"
    if config["data_dir"] is not None:
        print(f"{NAME}: {folder} holds no age_regression_*.npy files; using the synthetic stand-in", file=sys.stderr)
    return data.make_age_regression(config["seed"], config["synthetic_train_rows"], config["synthetic_test_rows"],
                                    config["synthetic_side"]), "synthetic"


def prepare(raw: dict, config: dict) -> tuple[dict, dict]:
    """80/20 train/validation split of the training files, standardised inputs, centred targets (float32)."""
    n = len(raw["x_train"])
    try:
        train_idx, val_idx = regression.split_indices(jax.random.fold_in(jax.random.key(config["seed"]), 1), n,
                                                      1 - config["val_fraction"])
    except ValueError as e:
        raise cli.UserError(f"--val-fraction {config['val_fraction']:g} on {n} training rows: {e}") from None
    mean, scale = linear.fit_standardiser(raw["x_train"][train_idx])
    y_mean = float(np.mean(raw["y_train"][train_idx]))

    def inputs(x):
        return (np.asarray(x, np.float32) - np.float32(mean)) / np.float32(scale)

    arrays = {"x_train": inputs(raw["x_train"][train_idx]), "y_train": raw["y_train"][train_idx] - y_mean,
              "x_val": inputs(raw["x_train"][val_idx]), "y_val": raw["y_train"][val_idx] - y_mean,
              "x_test": inputs(raw["x_test"]), "y_test": raw["y_test"] - y_mean}
    arrays = {k: v.astype(np.float32) for k, v in arrays.items()}
    return arrays, {"x_mean": mean, "x_scale": scale, "y_mean": y_mean}


def grid_of(config: dict) -> dict[str, np.ndarray]:
    return sweep.product(**{k: config[ck] for k, ck in zip(AXES, CONFIG_AXES)})


def select(val_mse: np.ndarray, diverged: np.ndarray) -> int:
    """Index of the lowest validation MSE among configs that neither diverged nor ended non-finite."""
    ok = ~diverged & np.isfinite(val_mse)
    if not ok.any():
        raise cli.UserError("every configuration of the grid diverged: lower --lrs")
    return int(np.flatnonzero(ok)[np.argmin(val_mse[ok])])


def axis_positions(config: dict, best: int, val_mse: np.ndarray, diverged: np.ndarray, w: np.ndarray,
                   b: np.ndarray, x_val: np.ndarray, y_val: np.ndarray) -> dict:
    """Where the chosen config sits on each grid axis, and how it compares with its neighbours there.

    A neighbour's difference in validation MSE is paired over the same validation examples:
    d_i = r_neighbour,i^2 - r_best,i^2, its mean and standard error std(d)/sqrt(n_val).
    """
    shape = [len(config[k]) for k in CONFIG_AXES]
    at = np.unravel_index(best, shape)
    x64, y64 = np.asarray(x_val, np.float64), np.asarray(y_val, np.float64)

    def sq_residuals(i):
        return (x64 @ np.asarray(w[i], np.float64) + float(b[i]) - y64) ** 2

    base = sq_residuals(best)
    out = {}
    for axis, (name, key) in enumerate(zip(AXES, CONFIG_AXES)):
        values, i = config[key], int(at[axis])

        def index(j):
            return int(np.ravel_multi_index(tuple(j if a == axis else at[a] for a in range(len(shape))), shape))

        line = [None if diverged[index(j)] else float(val_mse[index(j)]) for j in range(len(values))]
        side = {}
        for label, j in (("lower", i - 1), ("upper", i + 1)):
            if not 0 <= j < len(values) or diverged[index(j)]:
                side[label] = None
                continue
            d = sq_residuals(index(j)) - base
            mean, se = float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d)))
            side[label] = {"value": values[j], "val_mse": line[j], "diff": mean, "diff_se": se,
                           "z": mean / se if se > 0 else None}
        where = "interior" if 0 < i < len(values) - 1 else ("lowest" if i == 0 else "highest")
        out[name] = {"values": values, "index": i, "n": len(values), "value": values[i], "where": where,
                     "at_natural_bound": name == "alpha" and values[i] == 0.0, "line": line, **side}
    return out


def worked_answer_bug(arrays: dict, alpha: float) -> dict:
    """Runs the sheet's grad_f_MSE (np.dot(X, yhat - y)) on the training data, and the fixed gradient.

    The fix (X^T (yhat - y) / n + alpha w, `linear.ridge_value_and_grad`) is compared with jax.grad of
    the objective at a random point.
    """
    x, y = np.asarray(arrays["x_train"], np.float64), np.asarray(arrays["y_train"], np.float64)
    n, d = x.shape
    w0 = np.random.default_rng(0).standard_normal(d) / np.sqrt(d)
    try:
        linear.worked_answer_grad_f_mse(w0, 0.1, x, y, alpha)
        error = None
    except ValueError as e:
        error = str(e)
    params = {"w": jnp.asarray(w0, jnp.float32), "b": jnp.float32(0.1)}
    hand, auto = jax.device_get(_ridge_grads(params, arrays["x_train"], arrays["y_train"], alpha))
    err = max(float(np.max(np.abs(hand[k] - auto[k]))) for k in ("w", "b"))
    scale = max(float(np.max(np.abs(auto[k]))) for k in ("w", "b"))
    return {"n": n, "d": d, "raises": error is not None, "error": error, "fixed_vs_autodiff_rel_err": err / scale}


@jax.jit
def _ridge_grads(params, x, y, alpha):
    return linear.ridge_value_and_grad(params, x, y, alpha)[1], jax.grad(linear.ridge_loss)(params, x, y, alpha)


def steady_one_call_s(timings: dict) -> tuple[float, float]:
    """(seconds of the one-call sweep without compiling, compile seconds): the first chunk, which compiles,
    is counted at the median time of the later chunks (all chunks do the same work)."""
    chunks = np.asarray(timings["chunk_s"])
    if len(chunks) < 2:
        return float(chunks.sum()), float("nan")
    steady = float(np.median(chunks[1:]))
    return steady * len(chunks), float(chunks[0] - steady + timings["init_s"])


def time_loop(config: dict, grid: dict, arrays: dict, device) -> dict:
    """The same configs as standalone jitted runs in a Python loop (after one warm-up run per batch size).

    With loop_per_cell = k > 0 only k random configs of each (batch size, epochs) cell are timed: a run's
    cost depends on those two alone, so the cell's mean time x its size extrapolates the whole loop.
    """
    n, d = arrays["x_train"].shape
    fit = jax.device_put({k: arrays[k] for k in ("x_train", "y_train", "x_val", "y_val")}, device)
    rng = np.random.default_rng(config["seed"])
    per_cell = config["loop_per_cell"]

    def hp(i):
        return {"seed": np.int32(config["seed"]), "epochs": np.int32(grid["epochs"][i]),
                "lr": np.float32(grid["lr"][i]), "alpha": np.float32(grid["alpha"][i])}

    def spec(i):
        return ridge_sweep.RidgeSpec(n_train=n, d=d, batch_size=int(grid["batch_size"][i]),
                                     shuffle_seed=int(config["seed"]))

    for b in config["batch_sizes"]:  # warm-up: compile each batch size's program once
        first = int(np.flatnonzero(grid["batch_size"] == b)[0])
        jax.block_until_ready(ridge_sweep.run_standalone(spec(first), hp(first), fit))
    cells = [np.flatnonzero((grid["batch_size"] == b) & (grid["epochs"] == e))
             for b in config["batch_sizes"] for e in config["epochs"]]
    timed = [c if per_cell == 0 else rng.choice(c, min(per_cell, len(c)), replace=False) for c in cells]
    seconds, val_mse, total = {}, {}, 0.0
    with progress.bar(sum(len(t) for t in timed), "standalone loop", unit="config") as pbar:
        for cell, chosen in zip(cells, timed):
            for i in chosen:
                t0 = time.perf_counter()
                params = jax.block_until_ready(ridge_sweep.run_standalone(spec(i), hp(i), fit))
                seconds[int(i)] = time.perf_counter() - t0
                val_mse[int(i)] = float(linear.mse(params, fit["x_val"], fit["y_val"]))
                pbar.update(1)
            total += np.mean([seconds[int(i)] for i in chosen]) * len(cell)
    return {"loop_s": total, "timed": sorted(seconds), "val_mse": val_mse,
            "extrapolated": per_cell != 0 and sum(len(t) for t in timed) < len(grid["lr"])}


def run_grid_search(config: dict, arrays: dict, transform: dict, source: str, out: Path) -> tuple[dict, dict]:
    grid = grid_of(config)
    # One device: the engine compiles its chunk program twice when the config axis is sharded
    # (the first chunk's input sharding differs from later chunks'), which costs more than a second
    # core gains here; XLA's CPU matmuls use the cores anyway.
    device = jax.devices()[0]
    start = time.perf_counter()
    result = ridge_sweep.run_ridge_sweep(grid, arrays, shuffle_seed=config["seed"], chunk_epochs=config["chunk_epochs"],
                                         n_record=config["n_record"], checkpoint=out / "checkpoint.npz",
                                         devices=[device], desc=f"{NAME} grid",
                                         progress=progress.bar)
    wall = time.perf_counter() - start
    one_call, compile_s = steady_one_call_s(result.timings)
    val_mse = result.final["val_mse"]
    best = select(val_mse, result.diverged)
    chosen = {"w": result.w[best], "b": result.b[best]}
    # grid order is sweep.product's (first axis slowest): the chosen config's position on each axis
    position = dict(zip(AXES, np.unravel_index(best, [len(config[k]) for k in CONFIG_AXES])))
    chosen_values = {k: config[ck][position[k]] for k, ck in zip(AXES, CONFIG_AXES)}
    alpha = chosen_values["alpha"]
    # closed-form ridge for every alpha of the grid: the same alpha as the chosen SGD config, and the best
    ridge_path = linear.ridge(arrays["x_train"], arrays["y_train"], config["alphas"])
    ridge_val = [linear.numpy_mse(r, arrays["x_val"], arrays["y_val"]) for r in ridge_path]
    ridge = ridge_path[position["alpha"]]
    ridge_best = int(np.argmin(ridge_val))
    loop = time_loop(config, grid, arrays, device)
    # a diverged config is rolled back to its last finite state by the engine, while its standalone run
    # goes on to inf/NaN: compare the others, and check that those blew up standalone too
    timed = loop["val_mse"]
    standalone_err = max((abs(v - val_mse[i]) / val_mse[i] for i, v in timed.items() if not result.diverged[i]),
                         default=0.0)
    diverged_too = all(not np.isfinite(v) for i, v in timed.items() if result.diverged[i])
    positions = axis_positions(config, best, val_mse, result.diverged, result.w, result.b, arrays["x_val"],
                               arrays["y_val"])
    metrics = {
        "data": source,
        "position": positions,
        "worked_answer": worked_answer_bug(arrays, alpha),
        "n_train": len(arrays["x_train"]), "n_val": len(arrays["x_val"]), "n_test": len(arrays["x_test"]),
        "n_features": int(arrays["x_train"].shape[1]),
        "axes": {"batch_size": config["batch_sizes"], "lr": config["lrs"], "epochs": config["epochs"],
                 "alpha": config["alphas"]},
        "n_configs": len(val_mse),
        "n_diverged": int(result.diverged.sum()),
        "best": chosen_values | {"index": best},
        "val_mse": float(val_mse[best]),
        "train_mse": float(result.final["train_mse"][best]),
        "test_mse_unregularised": linear.numpy_mse(chosen, arrays["x_test"], arrays["y_test"]),
        "test_target_variance": float(np.var(arrays["y_test"])),
        "ridge_alpha": alpha,
        "ridge_val_mse": ridge_val[position["alpha"]],
        "ridge_test_mse": linear.numpy_mse(ridge, arrays["x_test"], arrays["y_test"]),
        "ridge_val_mse_by_alpha": ridge_val,
        "ridge_best": {"alpha": config["alphas"][ridge_best], "val_mse": ridge_val[ridge_best],
                       "test_mse": linear.numpy_mse(ridge_path[ridge_best], arrays["x_test"], arrays["y_test"])},
        "sgd_vs_ridge_w_rel_dist": float(np.linalg.norm(chosen["w"] - ridge["w"]) / np.linalg.norm(ridge["w"])),
        "one_call_s": one_call,
        "one_call_compile_s": compile_s,
        "one_call_wall_s": wall,
        "loop_s": loop["loop_s"],
        "loop_timed_configs": len(loop["timed"]),
        "loop_extrapolated": loop["extrapolated"],
        "loop_over_one_call": loop["loop_s"] / one_call,
        "standalone_val_mse_max_rel_err": standalone_err,
        "standalone_diverged_too": diverged_too,
    }
    curves = {"grid_val_mse": val_mse, "grid_train_mse": result.final["train_mse"], "grid_diverged": result.diverged,
              "grid_record_epochs": result.record_epochs, "grid_val_curves": result.curves["val_mse"],
              "best_w": chosen["w"], "best_b": chosen["b"], "ridge_w": ridge["w"], "ridge_b": ridge["b"],
              "x_mean": transform["x_mean"], "x_scale": transform["x_scale"], "y_mean": transform["y_mean"],
              **{f"grid_{k}": grid[k] for k in AXES}}
    return metrics, curves


# ------------------------------------------------------------------- Q4: MAE
def _max_abs_diff(a, b) -> dict:
    return jax.tree.map(lambda u, v: jnp.max(jnp.abs(u - v)), a, b)


@jax.jit
def mae_gradient_checks(x: jax.Array, y: jax.Array) -> dict:
    """Hand-written MAE gradients vs jax.grad at a generic point and at a point with exact ties.

    At the generic point no residual is 0, so jax.grad of jnp.abs is the reference. The tie point
    (w = 2, b = 0.5: x w + b is exact in float32) sets a tenth of the targets equal to their
    predictions; there the reference is jax.grad of sign(r) r, whose derivative at r = 0 is the
    sheet's 0, while jnp.abs's is 1.
    """
    generic = {"w": jnp.array([0.7]), "b": jnp.array(-0.3)}
    tie = {"w": jnp.array([2.0]), "b": jnp.array(0.5)}
    n_ties = max(1, y.shape[0] // 10)
    y_tied = y.at[:n_ties].set(x[:n_ties, 0] * 2.0 + 0.5)
    hand_tie = mae.mae_grad(tie, x, y_tied)
    return {"generic": _max_abs_diff(mae.mae_grad(generic, x, y), jax.grad(mae.mae)(generic, x, y)),
            "ties": _max_abs_diff(hand_tie, jax.grad(mae.mae_sheet_convention)(tie, x, y_tied)),
            "n_ties": n_ties, "grad_b_sheet": hand_tie["b"], "grad_b_jnp_abs": jax.grad(mae.mae)(tie, x, y_tied)["b"],
            "abs_grad_at_0": jax.grad(jnp.abs)(0.0),
            # Q4(c): b after one step, against b - lr * jax.grad (generic point: no ties)
            "update_b_err": jnp.abs(mae.updated_b(x, y, generic["w"], generic["b"], 0.1)
                                    - (generic["b"] - 0.1 * jax.grad(mae.mae)(generic, x, y)["b"]))}


@partial(jax.jit, static_argnames="steps")
def mae_vs_mse_descent(x: jax.Array, y: jax.Array, lr, *, steps: int) -> dict:
    """MAE-GD (hand-written gradient, steps lr / sqrt(1 + t): subgradient steps must shrink) and MSE-GD (lr)."""
    start = {"w": jnp.zeros(1), "b": jnp.zeros(())}
    mae_run = linear.gradient_descent(lambda p: mae.mae(p, x, y), start, lambda t: lr / jnp.sqrt(1.0 + t), steps,
                                      grad_fn=lambda p: mae.mae_grad(p, x, y), record=lambda p: p)
    mse_run = linear.gradient_descent(lambda p: linear.mse(p, x, y), start, lr, steps, record=lambda p: p)
    return {"mae": mae_run, "mse": mse_run}


def run_mae(config: dict) -> tuple[dict, dict]:
    x, y_clean = data.make_linear(config["seed"], config["mae_n"], [2.0], 1.0, config["mae_noise"])
    low, high = config["mae_outlier_shift"]
    y, outlier = data.add_outliers(config["seed"] + 1, y_clean, config["mae_outlier_fraction"], low, high)
    x, y = np.float32(x), np.float32(y)
    grads = jax.device_get(mae_gradient_checks(x, y))
    runs = jax.device_get(mae_vs_mse_descent(x, y, config["mae_lr"], steps=config["mae_steps"]))
    truth = {"w": 2.0, "b": 1.0}

    def summary(p):
        return {"w": float(p["w"][0]), "b": float(p["b"]),
                "param_err": abs(float(p["w"][0]) - truth["w"]) + abs(float(p["b"]) - truth["b"])}

    metrics = {"grad_b_max_err": max(grads["generic"]["b"], grads["ties"]["b"]),
               "grad_w_max_err": max(grads["generic"]["w"], grads["ties"]["w"]),
               "update_b_err": float(grads["update_b_err"]),
               "n": len(y), "n_ties": grads["n_ties"], "jax_abs_grad_at_0": grads["abs_grad_at_0"],
               "grad_b_at_ties": {"sheet": grads["grad_b_sheet"], "jnp_abs": grads["grad_b_jnp_abs"]},
               "n_outliers": int(outlier.sum()), "truth": truth, "lr": config["mae_lr"],
               "mae_gd": summary(runs["mae"][0]), "mse_gd": summary(runs["mse"][0]), "steps": config["mae_steps"]}
    curves = {"mae_x": x[:, 0], "mae_y": y, "mae_outlier": outlier}
    for name, (_, loss, path) in runs.items():
        curves |= {f"{name}_curve": loss, f"{name}_path_w": path["w"][:, 0], f"{name}_path_b": path["b"]}
    return metrics, curves


# ------------------------------------------------------------------- Q5: MLE
@partial(jax.jit, static_argnames="steps")
def mle_ascent(x: jax.Array, y: jax.Array, w_closed: jax.Array, var_closed, lr, *, steps: int):
    """Gradient ascent on the mean log-likelihood from w = 0, sigma^2 = 1.

    Returns:
      (final params, mean log-likelihood after every step (steps,), params after every step,
      the closed form's mean log-likelihood).
    """
    start = {"w": jnp.zeros(x.shape[1]), "log_var": jnp.zeros(())}
    final, neg_ll, path = linear.gradient_descent(lambda p: -linear_gaussian.mean_log_likelihood(p, x, y), start,
                                                  lr, steps, record=lambda p: p)
    after = jnp.append(-neg_ll[1:], linear_gaussian.mean_log_likelihood(final, x, y))
    path = jax.tree.map(lambda h, f: jnp.concatenate([h[1:], f[None]]), path, final)
    closed = linear_gaussian.mean_log_likelihood({"w": w_closed, "log_var": jnp.log(var_closed)}, x, y)
    return final, after, path, closed


def run_mle(config: dict) -> tuple[dict, dict]:
    features, y = data.make_linear(config["seed"] + 2, config["mle_n"], config["mle_weights"], config["mle_bias"],
                                   config["mle_noise"])
    x = np.concatenate([features, np.ones((len(y), 1))], axis=1)  # the bias as a constant feature
    w_closed, var_closed = linear_gaussian.mle(x, y)
    w_mse = np.linalg.lstsq(x, y, rcond=None)[0]
    final, loglik, path, loglik_closed = jax.device_get(
        mle_ascent(np.float32(x), np.float32(y), np.float32(w_closed), np.float32(var_closed), config["mle_lr"],
                   steps=config["mle_steps"]))
    var_ascent = float(np.exp(final["log_var"]))
    metrics = {"n": len(y), "w_closed": w_closed, "sigma2_closed": var_closed,
               "w_ascent": final["w"], "sigma2_ascent": var_ascent,
               "w_max_err": float(np.max(np.abs(np.asarray(final["w"]) - w_closed))),
               "sigma2_err": abs(var_ascent - var_closed),
               "w_mse_max_err": float(np.max(np.abs(w_mse - w_closed))),
               "loglik_closed": loglik_closed, "loglik_ascent": loglik[-1],
               "true_w": list(config["mle_weights"]) + [config["mle_bias"]], "noise_var": config["mle_noise"] ** 2,
               "lr": config["mle_lr"], "steps": config["mle_steps"]}
    return metrics, {"mle_loglik": loglik, "mle_w_err": np.max(np.abs(path["w"] - w_closed), axis=1),
                     "mle_var_err": np.abs(np.exp(path["log_var"]) - var_closed)}


# ------------------------------------------------------ seed 002: separable logistic
@partial(jax.jit, static_argnames="steps")
def logistic_descent(x: jax.Array, y: jax.Array, unit: jax.Array, c: jax.Array, lr, *, steps: int):
    """GD on the mean logistic loss from w = 0, and the loss L(c unit) along a direction for each c.

    Returns:
      (final w, risk before each step, w before each step (steps, d), (L(c unit), dL(c unit)/dc) per c).
    """
    final, risk, path = linear.gradient_descent(lambda w: max_margin.risk(w, x, y), jnp.zeros(x.shape[1]), lr, steps,
                                                record=lambda w: w)
    along = jax.vmap(jax.value_and_grad(lambda s: max_margin.risk(s * unit, x, y)))(c)
    return final, risk, path, along


def run_separable(config: dict) -> tuple[dict, dict]:
    x, y = max_margin.make_separable(config["seed"] + 3, config["logistic_n"], [1.0, 0.5], config["logistic_gap"])
    w_svm = max_margin.hard_margin(x, y)
    steps = config["logistic_steps"]
    c = np.logspace(-1, 2, 31)
    # float64: late GD updates are ~1e-6 of ||w||, below float32's resolution of the direction
    with jax.enable_x64(True):
        final, risk_curve, path, (loss_c, dloss_dc) = jax.device_get(
            logistic_descent(x, y, w_svm / np.linalg.norm(w_svm), c, config["logistic_lr"], steps=steps))
    trajectory = np.concatenate([path[1:], final[None]])  # row t-1: w after t steps
    t = sweep.record_epochs(steps, 60)
    w_t = trajectory[t - 1]
    norms, angles = np.linalg.norm(w_t, axis=1), max_margin.angle_deg(w_t, w_svm)
    late = t >= steps / 10
    slope = float(np.polyfit(np.log(t[late]), norms[late], 1)[0])
    margins = (y[:, None] * x) @ (trajectory[-1] / np.linalg.norm(trajectory[-1]))
    # w(t) = w_svm ln t + rho(t) with rho bounded: rho's change over each decade of t shrinks
    decades = 10 ** np.arange(1, int(np.log10(steps)) + 1)
    rho = trajectory[decades - 1] - np.log(decades)[:, None] * w_svm
    # the derivation's closed form: dL(c w_hat)/dc = -(1/n) sum_i m_i / (1 + exp(c m_i)), m_i = y_i w_hat.x_i
    unit_margins = y * (x @ (w_svm / np.linalg.norm(w_svm)))
    closed = -np.mean(unit_margins[None, :] / (1 + np.exp(c[:, None] * unit_margins[None, :])), axis=1)
    metrics = {"steps": t, "norms": norms, "angles": angles, "final_norm": float(norms[-1]),
               "final_angle_deg": float(angles[-1]), "w_final": trajectory[-1], "w_svm": w_svm,
               "svm_norm": float(np.linalg.norm(w_svm)), "svm_margin": float(1 / np.linalg.norm(w_svm)),
               "gd_margin": float(margins.min()), "norm_slope_per_log_t": slope,
               "decades": decades[1:], "rho_change_per_decade": np.linalg.norm(np.diff(rho, axis=0), axis=1),
               "final_risk": float(risk_curve[-1]), "lr": config["logistic_lr"],
               "loss_vs_c": {"c": c, "loss": loss_c, "decreasing": bool(np.all(np.diff(loss_c) < 0)),
                             "dloss_dc": dloss_dc, "dloss_dc_max": float(np.max(dloss_dc)),
                             "dloss_dc_closed_form_max_err": float(np.max(np.abs(dloss_dc - closed))),
                             "min_unit_margin": float(unit_margins.min()), "n": len(y)}}
    return metrics, {"logistic_x": x, "logistic_y": y, "logistic_w": w_t}


# --------------------------------------------------------------------- run
def run(config: dict, out: Path) -> dict:
    raw, source = load_age_data(config)  # first: a bad file or batch size fails before any training
    arrays, transform = prepare(raw, config)
    if max(config["batch_sizes"]) > len(arrays["x_train"]):
        raise cli.UserError(f"--batch-sizes: {max(config['batch_sizes'])} exceeds the "
                            f"{len(arrays['x_train'])} training rows")
    xor, xor_curves = run_xor(config)
    grid, grid_curves = run_grid_search(config, arrays, transform, source, out)
    mae_m, mae_curves = run_mae(config)
    mle, mle_curves = run_mle(config)
    sep, sep_curves = run_separable(config)
    metrics = {"xor": xor, "grid_search": grid, "mae": mae_m, "mle": mle, "separable_logistic": sep}
    runio.save_curves(out / "curves.npz", **xor_curves, **grid_curves, **mae_curves, **mle_curves, **sep_curves)
    plot_xor(metrics, xor_curves, out)
    plot_grid(metrics, grid_curves, out)
    plot_mae(metrics, mae_curves, out)
    plot_mle(metrics, mle_curves, out)
    plot_separable(metrics, sep_curves, out)
    return metrics


# -------------------------------------------------------------------- plots
def plot_xor(m: dict, c: dict, out: Path) -> None:
    xor = m["xor"]
    fig, axes = subplots(1, 2, width=5.0, height=4.0)
    ax = axes[0, 0]
    g1, g2 = np.meshgrid(np.linspace(-0.5, 1.5, 101), np.linspace(-0.5, 1.75, 101))
    fit = g1 * xor["w"][0] + g2 * xor["w"][1] + xor["b"]
    image = ax.imshow(fit, extent=(-0.5, 1.5, -0.5, 1.75), origin="lower", cmap="coolwarm", vmin=0, vmax=1,
                      aspect="auto")
    fig.colorbar(image, ax=ax, label=r"least-squares fit $\hat y = x^\top w + b$")
    for (x1, x2), target in zip(linear.XOR_X, linear.XOR_Y):
        ax.scatter(x1, x2, s=160, c="C1" if target else "C0", edgecolors="k", zorder=3)
        ax.annotate(f"y = {target:g}", (x1, x2), xytext=(0, 13), textcoords="offset points", ha="center")
    ax.set(xlabel="$x_1$", ylabel="$x_2$", xlim=(-0.5, 1.5), ylim=(-0.5, 1.75),
           title=f"XOR: w = ({xor['w'][0]:.2g}, {xor['w'][1]:.2g}), b = {xor['b']:.3g}, J = {xor['J']:.3g}")
    ax = axes[0, 1]
    steps = np.arange(1, len(c["xor_J"]) + 1)
    ax.plot(steps, c["xor_w"][:, 0], label="$w_1$")
    ax.plot(steps, c["xor_w"][:, 1], "--", label="$w_2$")
    ax.plot(steps, c["xor_b"], label="$b$")
    ax.plot(steps, c["xor_J"], label="J")
    for level in (0.0, 0.25, 0.5):
        ax.axhline(level, color="gray", lw=0.6, ls=":")
    ax.set(xscale="log", xlabel="gradient-descent step", ylabel="value",
           title=f"gradient descent (lr {xor['gd']['lr']:g}) reaches the same point")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=4)
    save_figure(fig, out / "xor.png")


def cell_table(m: dict, c: dict) -> tuple[np.ndarray, np.ndarray]:
    """Validation MSE arranged (batch, lr, epochs, alpha), diverged configs as NaN, plus the diverged mask."""
    g = m["grid_search"]
    shape = tuple(len(g["axes"][k]) for k in AXES)
    val = np.where(c["grid_diverged"], np.nan, c["grid_val_mse"]).reshape(shape)
    return val, c["grid_diverged"].reshape(shape)


def _heat(ax, table, diverged, rows, cols, row_label, col_label, best, title, norm):
    image = ax.imshow(table, cmap="viridis_r", norm=norm, aspect="auto")
    for i in range(table.shape[0]):
        for j in range(table.shape[1]):
            text = "div." if diverged[i, j] else f"{table[i, j]:.3g}"
            dark = not diverged[i, j] and norm(table[i, j]) > 0.5  # viridis_r: high values are dark
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color="w" if dark else "k")
    ax.add_patch(plt.Rectangle((best[1] - 0.5, best[0] - 0.5), 1, 1, fill=False, ec="r", lw=2))
    ax.set_xticks(range(len(cols)), [f"{v:g}" for v in cols])
    ax.set_yticks(range(len(rows)), [f"{v:g}" for v in rows])
    ax.set(xlabel=col_label, ylabel=row_label, title=title)
    return image


def plot_grid(m: dict, c: dict, out: Path) -> None:
    from matplotlib.colors import LogNorm

    g = m["grid_search"]
    val, div = cell_table(m, c)
    ib, il, ie, ia = (g["axes"][k].index(g["best"][k]) for k in AXES)
    finite = val[np.isfinite(val)]
    # colours span at most a factor 10 above the best cell (worse cells saturate, their numbers stay exact)
    norm = LogNorm(vmin=finite.min(), vmax=min(finite.max(), 10 * finite.min()), clip=True)
    fig, axes = subplots(1, 2, width=5.2, height=4.3)
    image = _heat(axes[0, 0], val[ib, :, ie, :], div[ib, :, ie, :], g["axes"]["lr"], g["axes"]["alpha"],
          "learning rate", r"L2 strength $\alpha$", (il, ia),
          f"batch {g['best']['batch_size']}, {g['best']['epochs']} epochs", norm)
    _heat(axes[0, 1], val[:, il, :, ia], div[:, il, :, ia], g["axes"]["batch_size"], g["axes"]["epochs"],
          "batch size", "epochs", (ib, ie), f"lr {g['best']['lr']:g}, alpha {g['best']['alpha']:g}", norm)
    ticks = np.geomspace(norm.vmin, norm.vmax, 6)
    bar = fig.colorbar(image, ax=axes.ravel().tolist(), label="validation MSE (years$^2$), log scale", ticks=ticks)
    bar.ax.set_yticklabels([f"{v:.3g}" for v in ticks[:-1]] + [f">= {ticks[-1]:.3g}" if norm.vmax < finite.max()
                                                                else f"{ticks[-1]:.3g}"])
    bar.ax.minorticks_off()
    rb = g["ridge_best"]
    fig.suptitle(f"{g['n_configs']} configs in one jitted sweep ({g['data']} data), red: chosen; test MSE "
                 f"{g['test_mse_unregularised']:.1f}; ridge closed form: {g['ridge_test_mse']:.1f} at the same alpha, "
                 f"{rb['test_mse']:.1f} at alpha {rb['alpha']:g}", fontsize=10)
    save_figure(fig, out / "grid_search.png")


def plot_mae(m: dict, c: dict, out: Path) -> None:
    r = m["mae"]
    fig, axes = subplots(1, 2, width=5.2, height=4.0)
    ax = axes[0, 0]
    x, y, bad = c["mae_x"], c["mae_y"], c["mae_outlier"].astype(bool)
    ax.scatter(x[~bad], y[~bad], s=10, color="0.5", label="data")
    ax.scatter(x[bad], y[bad], s=18, color="C3", marker="x", label=f"outliers ({r['n_outliers']})")
    line = np.array([-1.0, 1.0])
    for key, style, label in (("mse_gd", "C0-", "MSE-GD"), ("mae_gd", "C1-", "MAE-GD"), ("truth", "k:", "truth")):
        p = r[key]
        ax.plot(line, p["w"] * line + p["b"], style, lw=2, label=f"{label}: w = {p['w']:.2f}, b = {p['b']:.2f}")
    ax.set(xlabel="x", ylabel="y", title="linear fits with one-sided outliers")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    ax = axes[0, 1]
    steps = np.arange(1, len(c["mae_path_w"]) + 1)
    for key, label in (("mse", "MSE-GD"), ("mae", "MAE-GD")):
        err = np.abs(c[f"{key}_path_w"] - r["truth"]["w"]) + np.abs(c[f"{key}_path_b"] - r["truth"]["b"])
        ax.loglog(steps, err, label=label)
    ax.set(xlabel="gradient-descent step", ylabel="|w - 2| + |b - 1|", title="distance to the true line")
    ax.legend()
    save_figure(fig, out / "mae.png")


def plot_mle(m: dict, c: dict, out: Path) -> None:
    r = m["mle"]
    fig, axes = subplots(1, 2, width=5.0, height=3.8)
    steps = np.arange(1, len(c["mle_loglik"]) + 1)
    ax = axes[0, 0]
    ax.semilogx(steps, c["mle_loglik"], label="gradient ascent")
    ax.axhline(r["loglik_closed"], color="k", ls=":", label=f"closed-form MLE ({r['loglik_closed']:.4f})")
    ax.set(xlabel="step", ylabel="mean log-likelihood", title="Gaussian log-likelihood")
    ax.legend(loc="lower right")
    ax = axes[0, 1]
    ax.loglog(steps, c["mle_w_err"], label=r"$\max_j |w_j - w_j^{MLE}|$")
    ax.loglog(steps, c["mle_var_err"], "--", label=r"$|\sigma^2 - \sigma^2_{MLE}|$")
    ax.set(xlabel="step", ylabel="distance to the closed form (float32)",
           title=f"final: {r['w_max_err']:.1e} (w), {r['sigma2_err']:.1e} ($\\sigma^2$)")
    ax.legend()
    save_figure(fig, out / "mle.png")


def plot_separable(m: dict, c: dict, out: Path) -> None:
    r = m["separable_logistic"]
    fig, axes = subplots(2, 2, width=5.0, height=4.0)
    ax = axes[0, 0]
    x, y = c["logistic_x"], c["logistic_y"]
    ax.scatter(x[y > 0, 0], x[y > 0, 1], s=14, color="C1", label="y = +1")
    ax.scatter(x[y < 0, 0], x[y < 0, 1], s=14, color="C0", label="y = -1")
    lim = np.abs(x).max() * 1.05
    w_svm = np.asarray(r["w_svm"])
    along = np.array([-w_svm[1], w_svm[0]]) / np.linalg.norm(w_svm)
    normal = w_svm / np.linalg.norm(w_svm)
    for shift, style, label in ((0.0, "k-", "max-margin boundary"), (r["svm_margin"], "k:", "margins"),
                                (-r["svm_margin"], "k:", None)):
        ends = np.array([-lim, lim])[:, None] * along + shift * normal
        ax.plot(ends[:, 0], ends[:, 1], style, lw=1.2, label=label)
    w = np.asarray(r["w_final"])
    d = np.array([-w[1], w[0]]) / np.linalg.norm(w)
    ax.plot([-lim * d[0], lim * d[0]], [-lim * d[1], lim * d[1]], "C3--", lw=1.2, label="GD boundary (final)")
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), xlabel="$x_1$", ylabel="$x_2$", aspect="equal",
           title=f"separable data, max margin {r['svm_margin']:.3f}")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    ax = axes[0, 1]
    t = np.asarray(r["steps"])
    ax.semilogx(t, r["norms"], "o-", ms=3, label="GD")
    offset = r["norms"][-1] - r["svm_norm"] * np.log(t[-1])
    ax.semilogx(t, r["svm_norm"] * np.log(t) + offset, "k:", label=r"$\|w_{svm}\|\,\ln t$ + const")
    ax.set(xlabel="step t (log scale)", ylabel=r"$\|w(t)\|$", title="the norm grows like log t", ylim=(0, None))
    ax.legend()
    ax = axes[1, 0]
    ax.semilogx(t, r["angles"], "o-", ms=3)
    ax.set(xlabel="step t (log scale)", ylabel="angle to max-margin direction (deg)", ylim=(0, None),
           title=f"direction converges: {r['final_angle_deg']:.2g} deg at t = {t[-1]:,}")
    ax = axes[1, 1]
    ax.loglog(r["loss_vs_c"]["c"], r["loss_vs_c"]["loss"])
    ax.set(xlabel="c", ylabel=r"$L(c\,\hat w)$",
           title=r"loss along the separating $\hat w = w_{svm} / \|w_{svm}\|$")
    save_figure(fig, out / "separable_logistic.png")


# ------------------------------------------------------------- report, checks
TEXT = templates.beside(__file__)
AXIS_LABELS = {"batch_size": "batch size", "lr": "learning rate", "epochs": "epochs", "alpha": "alpha"}


def _numbers(values, spec: str = ".4g") -> str:
    return ", ".join("diverged" if v is None else format(v, spec) for v in values)


def axis_fields(name: str, pos: dict) -> dict:
    return {**pos, "label": AXIS_LABELS[name], "rank": pos["index"] + 1, "line": _numbers(pos["line"])}


def axis_sentence(name: str, pos: dict) -> str:
    """One axis of the grid: where the optimum sits, and its neighbours' paired differences."""
    fields = axis_fields(name, pos)
    if pos["at_natural_bound"]:
        line = [v for v in pos["line"] if v is not None]
        key = "axis_natural_bound_rising" if np.all(np.diff(line) > 0) else "axis_natural_bound"
    else:
        key = "axis_" + pos["where"]
    parts = []
    for side in ("lower", "upper"):
        n = pos.get(side)
        if n is not None:
            tie = n["z"] is None or abs(n["z"]) <= stats.Z_SIGNIFICANT
            parts.append(templates.render(TEXT, "neighbour_tie" if tie else "neighbour_worse", n))
    return templates.render(TEXT, key, fields) + (" Of its neighbours, " + "; ".join(parts) + "." if parts else "")


def grid_edges(g: dict) -> list[str]:
    """Axes on which the chosen config sits on an edge that could be extended (alpha = 0 cannot)."""
    return [AXIS_LABELS[k] for k, pos in g["position"].items() if pos["where"] != "interior"
            and not pos["at_natural_bound"]]


def report_fields(m: dict) -> dict:
    """The metrics plus the derived numbers the templates name."""
    xor, g, a, mle, s = m["xor"], m["grid_search"], m["mae"], m["mle"], m["separable_logistic"]
    lc = s["loss_vs_c"]
    return {**m, "g": g, "best": g["best"], "a": a, "s": s, "lc": lc,
            "w0": xor["w"][0], "w1": xor["w"][1], "gd_w0": xor["gd"]["w"][0], "gd_w1": xor["gd"]["w"][1],
            "hessian_eigenvalues": _numbers(xor["hessian_eigenvalues"], ".3g"),
            "half_test": g["test_mse_unregularised"] / 2, "edges": ", ".join(grid_edges(g)) or "none",
            "mae_err": max(a["grad_b_max_err"], a["grad_w_max_err"]), "tie_share": a["n_ties"] / a["n"],
            "mle_n": mle["n"], "mle_d": len(mle["w_closed"]),
            "loss_first": lc["loss"][0], "loss_last": lc["loss"][-1], "c_first": lc["c"][0], "c_last": lc["c"][-1],
            "n_c": len(lc["c"]), "final_step": f"{s['steps'][-1]:,}", "angle_first": s["angles"][0],
            "rho_changes": _numbers(s["rho_change_per_decade"], ".2f")}


def report(m: dict) -> list[dict]:
    xor, g, a, mle, s = m["xor"], m["grid_search"], m["mae"], m["mle"], m["separable_logistic"]
    f = report_fields(m)
    best = g["best"]
    q3_text = " ".join([
        templates.render(TEXT, "q3_text", f),
        templates.render(TEXT, "sgd_far_from_ridge" if g["sgd_vs_ridge_w_rel_dist"] > 0.1 else "sgd_near_ridge", f),
        *(axis_sentence(k, g["position"][k]) for k in AXES),
        templates.render(TEXT, "grid_edge" if grid_edges(g) else "grid_interior", f),
        templates.render(TEXT, "timing_extrapolated" if g["loop_extrapolated"] else "timing", f)])
    q3_derivation = "\n".join([templates.render(TEXT, "q3_derivation", f),
                                templates.render(TEXT, "bug_raises" if g["worked_answer"]["raises"] else "bug_silent", f)])
    return [
        {"question": "seed 004 Q2: the least-squares linear model of XOR, by setting the gradient to 0",
         "ids": ["004 Q2"], "figures": ["xor.png"],
         "table": [["w (normal equations)", f"({xor['w'][0]:.3g}, {xor['w'][1]:.3g})"], ["b", xor["b"]],
                   ["J", xor["J"]], ["w (GD)", f"({xor['gd']['w'][0]:.3g}, {xor['gd']['w'][1]:.3g})"],
                   ["b (GD)", xor["gd"]["b"]]],
         "derivation": templates.render(TEXT, "xor_derivation", f), "text": templates.render(TEXT, "xor_text", f),
         "code": []},
        {"question": "seed 004 Q3: L2-regularised linear regression by SGD, grid search on a validation split",
         "ids": ["004 Q3"], "figures": ["grid_search.png"],
         "table": [["axis", "values", "chosen", "where"]]
         + [[AXIS_LABELS[k], _numbers(g["position"][k]["values"], "g"), f"{best[k]:g}",
             "at alpha = 0 (bound)" if g["position"][k]["at_natural_bound"] else g["position"][k]["where"]]
            for k in AXES]
         + [["validation MSE", f"{g['val_mse']:.2f}", "", ""],
            ["test MSE (unregularised)", f"{g['test_mse_unregularised']:.2f}", "", ""],
            [f"ridge closed form, alpha {g['ridge_best']['alpha']:g}: test MSE", f"{g['ridge_best']['test_mse']:.2f}",
             "", ""]],
         "derivation": q3_derivation, "text": q3_text,
         "code": ["nndl.linear.ridge_value_and_grad", "nndl.train.ridge.sgd_step"]},
        {"question": "seed 004 Q4: MAE gradients (a) for b, (b) for w, (c) a Python function for the step on b",
         "ids": ["004 Q4(a)", "004 Q4(b)", "004 Q4(c)"], "figures": ["mae.png"],
         "table": [["max |grad_b hand - jax.grad|", a["grad_b_max_err"]],
                   ["max |grad_w hand - jax.grad|", a["grad_w_max_err"]],
                   ["|updated_b - (b - lr jax.grad)|", a["update_b_err"]],
                   [f"grad_b with {a['n_ties']} ties: sheet / jnp.abs",
                    f"{a['grad_b_at_ties']['sheet']:.3f} / {a['grad_b_at_ties']['jnp_abs']:.3f}"],
                   ["MAE-GD (w, b)", f"({a['mae_gd']['w']:.3f}, {a['mae_gd']['b']:.3f})"],
                   ["MSE-GD (w, b)", f"({a['mse_gd']['w']:.3f}, {a['mse_gd']['b']:.3f})"]],
         "derivation": templates.render(TEXT, "mae_derivation", f), "text": templates.render(TEXT, "mae_text", f),
         "code": ["nndl.mae.updated_b", "nndl.mae.mae_grad"]},
        {"question": "seed 004 Q5: proof that the MLE of the linear-Gaussian model is the least-squares w and mean "
                     "squared residual", "ids": ["004 Q5"], "figures": ["mle.png"],
         "table": [["max |w_ascent - w_closed|", mle["w_max_err"]],
                   ["|sigma2_ascent - sigma2_closed|", mle["sigma2_err"]],
                   ["max |w_closed - w_least_squares|", mle["w_mse_max_err"]],
                   ["sigma^2 (closed form)", mle["sigma2_closed"]]],
         "derivation": templates.render(TEXT, "mle_derivation", f), "text": templates.render(TEXT, "mle_text", f),
         "code": ["nndl.linear_gaussian.mle"]},
        {"question": "seed 002: logistic loss on linearly separable data has no finite minimiser",
         "ids": ["002 logistic"], "figures": ["separable_logistic.png"],
         "table": [["final ||w||", s["final_norm"]], ["d||w|| / d ln t (last decade)", s["norm_slope_per_log_t"]],
                   ["||w_svm|| (the limit of the slope)", s["svm_norm"]],
                   ["max over c of dL(c w_hat)/dc", s["loss_vs_c"]["dloss_dc_max"]],
                   ["final angle to max-margin (deg)", s["final_angle_deg"]],
                   ["GD margin / max margin", f"{s['gd_margin']:.4f} / {s['svm_margin']:.4f}"]],
         "derivation": templates.render(TEXT, "logistic_derivation", f),
         "text": templates.render(TEXT, "logistic_text", f), "code": ["nndl.max_margin.risk"]},
    ]


def checks(m: dict) -> list[dict]:
    xor, g, a, mle, s = m["xor"], m["grid_search"], m["mae"], m["mle"], m["separable_logistic"]
    xor_err = max(abs(xor["w"][0]), abs(xor["w"][1]), abs(xor["b"] - 0.5), abs(xor["J"] - 0.25))
    gd_err = max(abs(xor["gd"]["w"][0]), abs(xor["gd"]["w"][1]), abs(xor["gd"]["b"] - 0.5))
    values_per_axis = min(len(v) for v in g["axes"].values())
    rho = np.asarray(s["rho_change_per_decade"])
    angles = np.asarray(s["angles"])
    rows = [
        ("XOR normal equations: w = 0, b = 1/2, J = 1/4", 0.0, xor_err, "1e-9 (float64 solve)", xor_err < 1e-9),
        ("XOR gradient descent: w = 0, b = 1/2", 0.0, gd_err, "1e-4 (float32 GD)", gd_err < 1e-4),
        ("XOR: jax.grad of J at (0, 0, 1/2) = 0", 0.0, xor["grad_at_solution_max_abs"], "1e-6 (float32)",
         xor["grad_at_solution_max_abs"] < 1e-6),
        ("XOR: Hessian of J positive-definite (unique minimiser)", "> 0", min(xor["hessian_eigenvalues"]), "> 0",
         min(xor["hessian_eigenvalues"]) > 0),
        ("grid: >= 4 values on each of the 4 axes", 4, values_per_axis, "-", values_per_axis >= 4),
        ("grid: chosen config interior on every extendable axis (alpha = 0 is a bound)", "none on an edge",
         grid_edges(g) or "none", "-", not grid_edges(g)),
        ("worked answer's np.dot(X, yhat - y) fails on n x d data (n != d)", True, g["worked_answer"]["raises"], "-",
         g["worked_answer"]["raises"] == (g["worked_answer"]["n"] != g["worked_answer"]["d"])),
        ("fixed ridge gradient X^T r / n + alpha w = jax.grad", 0.0, g["worked_answer"]["fixed_vs_autodiff_rel_err"],
         "1e-5 relative (float32)", g["worked_answer"]["fixed_vs_autodiff_rel_err"] < 1e-5),
        ("sweep config = its standalone run (validation MSE)", 0.0, g["standalone_val_mse_max_rel_err"],
         "1e-3 relative (float32 summation order)", g["standalone_val_mse_max_rel_err"] < 1e-3),
        ("configs flagged diverged also blow up standalone", True, g["standalone_diverged_too"], "-",
         g["standalone_diverged_too"]),
        ("chosen SGD model beats predicting the mean age", g["test_target_variance"], g["test_mse_unregularised"],
         "strictly lower", g["test_mse_unregularised"] < g["test_target_variance"]),
        ("chosen SGD test MSE near the validation-selected closed-form ridge's", g["ridge_best"]["test_mse"],
         g["test_mse_unregularised"], "within 25 %",
         abs(g["test_mse_unregularised"] / g["ridge_best"]["test_mse"] - 1) < 0.25),
        ("MAE grad_b (hand) = jax.grad", 0.0, a["grad_b_max_err"], "1e-5 (float32)", a["grad_b_max_err"] < 1e-5),
        ("MAE grad_w (hand) = jax.grad", 0.0, a["grad_w_max_err"], "1e-5 (float32)", a["grad_w_max_err"] < 1e-5),
        ("MAE updated_b = b - lr jax.grad (Q4c)", 0.0, a["update_b_err"], "1e-6 (float32)", a["update_b_err"] < 1e-6),
        ("MAE-GD closer to the true line than MSE-GD under outliers", a["mse_gd"]["param_err"],
         a["mae_gd"]["param_err"], "strictly closer", a["mae_gd"]["param_err"] < a["mse_gd"]["param_err"]),
        ("MLE: gradient ascent w = closed form", 0.0, mle["w_max_err"], "1e-4 (float32)", mle["w_max_err"] < 1e-4),
        ("MLE: gradient ascent sigma^2 = closed form", 0.0, mle["sigma2_err"], "1e-4 (float32)",
         mle["sigma2_err"] < 1e-4),
        ("MLE w = least-squares w", 0.0, mle["w_mse_max_err"], "1e-9 (float64)", mle["w_mse_max_err"] < 1e-9),
        ("separable: L(c w_hat) strictly decreasing in c", "decreasing", s["loss_vs_c"]["decreasing"], "-",
         s["loss_vs_c"]["decreasing"]),
        ("separable: dL(c w_hat)/dc < 0 at every c (jax.grad)", "< 0", s["loss_vs_c"]["dloss_dc_max"], "< 0",
         s["loss_vs_c"]["dloss_dc_max"] < 0),
        ("separable: dL/dc = -(1/n) sum m_i / (1 + exp(c m_i))", 0.0, s["loss_vs_c"]["dloss_dc_closed_form_max_err"],
         "1e-12 (float64)", s["loss_vs_c"]["dloss_dc_closed_form_max_err"] < 1e-12),
        ("separable: ||w(t)|| increasing", "increasing", float(np.min(np.diff(s["norms"]))), "> 0",
         bool(np.all(np.diff(s["norms"]) > 0))),
        ("separable: w(t) - w_svm ln t settles (its change per decade of t shrinks)", "decreasing",
         s["rho_change_per_decade"], "each decade < the one before", bool(np.all(np.diff(rho) < 0))),
        ("separable: angle to the max-margin direction shrinks", float(angles[0]), s["final_angle_deg"],
         "final < first / 2", s["final_angle_deg"] < angles[0] / 2),
    ]
    return [check(*row) for row in rows]


def main(argv=None) -> int:
    return cli.run_experiment(NAME, doc=__doc__, get_config=get_config, run=run, keys=KEYS, validate=validate, argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
