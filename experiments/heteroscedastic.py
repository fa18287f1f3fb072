"""Heteroscedastic regression on data/x_y.csv: MSE fit, learning-rate regimes, mean-and-variance network.

Run: python -m experiments.heteroscedastic [--quick|--full] [--out DIR] [--seed N] [--data CSV]
Shows (seed 000 §3): (a) a seeded 66/33 train/test split; (b) the MSE as the
homoscedastic Gaussian log-likelihood (derivation, experiments/heteroscedastic.md);
(c) a 1->32->64->1 ReLU MLP fitted by MSE, plotted on the test set, with an
under/over-fitting verdict from its train/test errors in excess of the TRUE model's
(nndl.data's generator) on the same points, with standard errors; (d) a
learning-rate sweep (ONE vmapped call over rates x seeds and the linear warm-up +
cosine schedule) on a validation split carved from the training set, the nearest
rates that clearly fail on either side of the best shown as "too large"/"too small",
the schedule vs the constant rate of (c); an architecture exploration (depth x
width x weight decay x activation, nndl.sweep engine) selected on validation, test
reported once; (e) the heteroscedastic log-likelihood (derivation); (f) a two-headed
MLP predicting mean and variance trained on the Gaussian NLL: mean +- 2 sigma on
the test points, train/test NLL against the true model's, calibration.
"""

from __future__ import annotations

import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

import math

from nndl.run import cli, progress, runio, templates
from nndl import data, fit, losses, optim, regression, stats, sweep
from nndl import train as nn_train
from nndl.run.checks import check
from nndl.run.flags import Key
from nndl.models import mlp, padded_mlp
from nndl.run.plotting import plt, save_figure, subplots

NAME = "heteroscedastic"
SHEET = "seed 000 §3"
REGIMES = ("too_large", "too_small", "warmup_cosine", "constant")
TEXT = templates.beside(__file__)
GAUSSIAN_COVERAGE = {1: 0.6826894921370859, 2: 0.9544997361036416}  # P(|z| <= k), z ~ N(0, 1)


def get_config(full: bool = False) -> dict:
    config = {
        "seed": 0,
        "data": None,               # None: the shipped data/x_y.csv (true mean and sigma known)
        "train_fraction": 0.66,
        "val_fraction": 0.2,        # (d): share of the training split held out for validation
        "hidden": [32, 64],
        "steps": 1000,              # full-batch Adam steps of every fit
        "lr": 1e-2,                 # (c) and the peak of the warm-up + cosine schedule
        # (d) learning-rate sweep: constant rates x seeds (and the schedule) in ONE vmapped call; too large /
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
    "arch_activations": Key("(d) architecture sweep: activations", choices=tuple(nn_train.mlp.ACTIVATIONS),
                            unique=True),
    "arch_widths": Key("(d) architecture sweep: hidden widths", lo=1, hi=4096, unique=True),
    "arch_weight_decays": Key("(d) architecture sweep: weight decays", lo=0, hi=1e6, unique=True),
    "arch_seeds": Key("(d) architecture sweep: init seeds", lo=1, hi=1000),
    "warmup_fraction": Key("share of the steps spent warming up", positive=True, hi=1.0),
    "end_lr": Key("final learning rate of the cosine schedule", positive=True),
    "nll_lr": Key("(f) learning rate of the mean-and-variance network", positive=True),
    "var_floor": Key("(f) smallest predicted variance (softplus + floor)", positive=True),
}


def validate(config: dict) -> None:
    if config["fail_ratio"] <= 1:
        raise cli.UserError(f"--fail-ratio: must be > 1, got {config['fail_ratio']:g}")


# ----------------------------------------------------------------- the maths
def predict(params, x: jax.Array) -> jax.Array:
    """MLP outputs for a batch: x (n, 1) -> (n, d_out)."""
    return jax.vmap(mlp.apply, in_axes=(None, 0))(params, x)


def mse_loss(params, x: jax.Array, y: jax.Array) -> jax.Array:
    """Mean squared error of a one-output MLP; x, y: (n, 1)."""
    return jnp.mean(jax.vmap(losses.mse)(predict(params, x), y))


def mean_nll(mean: jax.Array, var: jax.Array, y: jax.Array) -> jax.Array:
    """Average Gaussian NLL per point; mean, var, y: (n,)."""
    return jnp.mean(jax.vmap(losses.gaussian_nll)(mean[:, None], var[:, None], y[:, None]))


def gaussian_predict(params, x: jax.Array, var_floor) -> tuple[jax.Array, jax.Array]:
    """Mean and variance of the two-headed MLP; x (n, 1) -> ((n,), (n,))."""
    return jax.vmap(regression.gaussian_head, in_axes=(0, None))(predict(params, x), var_floor)


def nll_loss(params, x: jax.Array, y: jax.Array, var_floor) -> jax.Array:
    mean, var = gaussian_predict(params, x, var_floor)
    return mean_nll(mean, var, y[:, 0])


@jax.jit
def evaluate_mse_model(params, x_tr, y_tr, x_te, y_te) -> dict:
    """(c): train/test MSE, predictions, and the test NLL with the MLE shared variance (= train MSE)."""
    train_mse = mse_loss(params, x_tr, y_tr)
    mean_te = predict(params, x_te)[:, 0]
    return {"train_mse": train_mse, "test_mse": mse_loss(params, x_te, y_te), "mean_te": mean_te,
            "mean_tr": predict(params, x_tr)[:, 0],
            "test_nll": mean_nll(mean_te, jnp.full_like(mean_te, train_mse), y_te[:, 0])}


@jax.jit
def evaluate_nll_model(params, x_tr, y_tr, x_te, y_te, var_floor) -> dict:
    """(f): train/test MSE of the mean head, train/test NLL, means and variances."""
    mean_tr, var_tr = gaussian_predict(params, x_tr, var_floor)
    mean_te, var_te = gaussian_predict(params, x_te, var_floor)
    return {"train_mse": jnp.mean(jnp.square(mean_tr - y_tr[:, 0])),
            "test_mse": jnp.mean(jnp.square(mean_te - y_te[:, 0])),
            "train_nll": mean_nll(mean_tr, var_tr, y_tr[:, 0]), "test_nll": mean_nll(mean_te, var_te, y_te[:, 0]),
            "mean_te": mean_te, "var_te": var_te, "mean_tr": mean_tr, "var_tr": var_tr}


def warmup_cosine(config: dict, peak: float) -> optax.Schedule:
    """Linear ramp from end_lr to `peak` over warmup_fraction of the steps, then cosine down to end_lr."""
    return optax.warmup_cosine_decay_schedule(
        init_value=config["end_lr"], peak_value=peak, decay_steps=config["steps"], end_value=config["end_lr"],
        warmup_steps=max(1, int(config["warmup_fraction"] * config["steps"])))


def train(loss_fn, optimizer: fit.Optimizer, key: jax.Array, sizes: tuple[int, ...], steps: int, desc: str):
    """Full-batch training of a fresh MLP in jitted chunks with a progress bar; returns (params, per-step curves)."""
    step = fit.make_full_batch_step(loss_fn, optimizer)
    state = jax.jit(lambda k: fit.init_state(optimizer, mlp.init(k, sizes)))(key)
    state, curves = progress.scan_chunked(step, state, steps, desc=desc, loss_of=last_loss)
    return state.params, curves


def last_loss(out: dict) -> float:
    """Progress-bar loss of a chunk: its last step's (the lowest over configs); numpy, so nothing compiles."""
    return float(np.min(np.asarray(out["loss"])[-1]))


def sweep_lrs(config: dict) -> list[float]:
    """(d) the constant learning rates swept: the grid plus the rate of (c), ascending."""
    return sorted({float(v) for v in config["lr_grid"]} | {float(config["lr"])})


def regime_schedules(config: dict) -> np.ndarray:
    """Learning rate at every step: one row per constant rate of `sweep_lrs`, then the warm-up + cosine row.

    Returns:
      float32 array of shape (len(sweep_lrs(config)) + 1, steps).
    """
    steps = config["steps"]
    warm_cos = np.asarray(jax.jit(warmup_cosine(config, config["lr"]))(np.arange(steps)))
    return np.stack([*(np.full(steps, lr) for lr in sweep_lrs(config)), warm_cos]).astype(np.float32)


def train_regimes(key, sizes, x, y, fit_weights, val_weights, lr_tables: np.ndarray):
    """All learning-rate rows in ONE vmapped, chunk-jitted scan (axis 0 of params and curves: row).

    Every row sees the same points x, y; which of them it trains on is its row of `fit_weights` (the fit
    part of the training set for the sweep, all of it for (c)'s model), so (c) rides in the same call.

    Args:
      key: one PRNG key (every row starts from `mlp.init(key, sizes)`) or one key per row.
      sizes: layer sizes of the MLP.
      x, y: (n, 1) arrays.
      fit_weights: (n_rows, n) training-loss weights per row; val_weights: (n,) weights of the validation MSE.
      lr_tables: (n_rows, steps) learning rate per step.

    Returns:
      (params stacked over rows, {"loss": (n_rows, steps) training MSE before each step,
      "val": the same on the validation points}).
    """
    # the schedule reads this row of the table: a traced hyperparameter, one compile for all
    optimizer = lambda hp: optim.adam(lambda count: hp["lr"][count])  # noqa: E731
    val_weights = jnp.asarray(val_weights, x.dtype)

    def loss_and_val(params, w):
        sq = jnp.square(predict(params, x)[:, 0] - y[:, 0])  # one forward pass for both
        return jnp.sum(w * sq) / jnp.sum(w), jnp.sum(val_weights * sq) / jnp.sum(val_weights)

    def step(state: fit.FitState, t):
        del t
        (loss, val), grads = jax.value_and_grad(loss_and_val, has_aux=True)(state.params, state.hparams["w"])
        return fit.apply_gradients(optimizer, state, grads), {"loss": loss, "val": val}

    key_axis = None if jnp.ndim(key) == 0 else 0
    init = jax.jit(lambda k, lrs, ws: jax.vmap(
        lambda kk, lr, w: fit.init_state(optimizer, mlp.init(kk, sizes), {"lr": lr, "w": w}),
        in_axes=(key_axis, 0, 0))(k, lrs, ws))
    states, curves = progress.scan_chunked(jax.vmap(step, in_axes=(0, None)),
                                           init(key, lr_tables, jnp.asarray(fit_weights, x.dtype)),
                                           lr_tables.shape[1], desc="(c) + (d) learning rates", loss_of=last_loss)
    return states.params, {k: np.asarray(v).T for k, v in curves.items()}


final_losses = jax.jit(jax.vmap(lambda p, xf, yf, xv, yv: (mse_loss(p, xf, yf), mse_loss(p, xv, yv)),
                                in_axes=(0, None, None, None, None)))
stacked_predict = jax.jit(jax.vmap(lambda p, x: predict(p, x)[:, 0], in_axes=(0, None)))


def explore_architectures(config: dict, x_fit, y_fit, x_val, y_val, x_eval) -> list[dict]:
    """(d) depth x activation x width x weight decay x seed, full-batch Adam at the rate of (c).

    One `nndl.train.run_mlp_sweep` call per (depth, activation) (both are static shapes/functions there);
    widths, weight decays and seeds are one vmapped grid inside each call.

    Args:
      config: the run's config (arch_* keys, lr, steps).
      x_fit, y_fit: the training part of the training set, (n, 1); x_val, y_val: the validation part.
      x_eval: (m, 1) inputs at which every config's predictions are returned (fit, validation, test).

    Returns:
      One dict per config: depth, activation, width, weight_decay, seed, train_mse, val_mse (the engine's
      final losses), diverged, pred (m,) predictions at x_eval.
    """
    rows = []
    for depth in config["arch_depths"]:
        for activation in config["arch_activations"]:
            grid = sweep.product(width=config["arch_widths"], weight_decay=config["arch_weight_decays"],
                                 seed=list(range(config["arch_seeds"])))
            n = grid["width"].size
            grid.update(epochs=np.full(n, config["steps"]), lr=np.full(n, config["lr"]))
            res = nn_train.run_mlp_sweep(grid, {"x_train": x_fit, "y_train": y_fit, "x_test": x_val, "y_test": y_val},
                                      depth=depth, activation=activation, n_buckets=1, n_record=2,
                                      chunk_epochs=config["steps"], desc=f"(d) depth {depth} {activation}",
                                      progress=progress.bar)
            preds = np.zeros((n, x_eval.shape[0]), np.float32)
            for b, (spec, state) in enumerate(zip(res.specs, res.states)):
                members = np.flatnonzero(res.location[:, 0] == b)
                order = res.location[members, 1]
                fn = jax.jit(jax.vmap(lambda p, w: nn_train.predict(spec, p, x_eval, w)[:, 0]))  # noqa: B023
                preds[members] = np.asarray(fn(state.params, jnp.asarray(res.grid["width"][members])))[order]
            for i in range(n):
                rows.append({"depth": depth, "activation": activation, "width": int(grid["width"][i]),
                             "weight_decay": float(grid["weight_decay"][i]), "seed": int(grid["seed"][i]),
                             "train_mse": float(res.final["train_loss"][i]),
                             "val_mse": float(res.final["test_loss"][i]),
                             "diverged": bool(res.diverged[i]), "pred": preds[i]})
    return rows


# ------------------------------------------------------------------ the run
def load_data(config: dict) -> tuple[np.ndarray, np.ndarray, bool]:
    """(x, y, truth_known): the shipped set has a documented generator, a user's --data does not."""
    path = Path(config["data"]) if config["data"] else data.X_Y_PATH
    columns = data.load_csv(path, ("x", "y"), min_rows=10)
    return columns["x"], columns["y"], config["data"] is None


def calibration(mean, var, y, x) -> dict:
    """Coverage of +-1 and +-2 sigma overall, and of +-2 sigma in the low-x and high-x halves; arrays (n,)."""
    std = np.sqrt(var)
    low = x < np.median(x)
    return {"coverage_1sigma": regression.coverage(mean, std, y, 1),
            "coverage_2sigma": regression.coverage(mean, std, y, 2),
            "coverage_2sigma_halves": [regression.coverage(mean[m], std[m], y[m], 2) for m in (low, ~low)]}


def point_nll(mean, var, y) -> np.ndarray:
    """Per-point Gaussian NLL, float64 numpy; arrays (n,) or broadcastable."""
    mean, var, y = (np.asarray(a, np.float64) for a in (mean, var, y))
    return 0.5 * np.log(2 * np.pi * var) + (y - mean) ** 2 / (2 * var)


def against(loss, reference) -> tuple[float, float]:
    """Excess of a per-point loss over the reference: per-point (paired, the true model) or (mean, se) (unpaired)."""
    if isinstance(reference, tuple):  # no generator known: Rice's noise estimate, independent of the model
        mean, se = regression.excess(loss, np.zeros(np.shape(loss)[-1]))
        return mean - reference[0], math.hypot(se, reference[1])
    return regression.excess(loss, reference)


def assess(train_loss, train_ref, heldout_loss, heldout_ref) -> dict:
    """`regression.fit_verdict` of per-point losses against their references (see `against`)."""
    return regression.fit_verdict(*against(train_loss, train_ref), *against(heldout_loss, heldout_ref))


def mean_or_nan(a) -> float:
    """Mean of an array, NaN if any entry is non-finite (a diverged fit is never averaged away)."""
    a = np.asarray(a, np.float64)
    return float(a.mean()) if np.all(np.isfinite(a)) else math.nan


def paired(a, b) -> dict:
    """b - a per point (and seed), mean with its s.e., and the stats.compare wording.

    a, b: per-point losses, (n,) or (n_seeds, n). Runs with equal seed counts are paired by seed and point;
    otherwise (different runs, nothing shared but the points) each is averaged over its seeds first.
    """
    a, b = np.atleast_2d(np.asarray(a, np.float64)), np.atleast_2d(np.asarray(b, np.float64))
    if a.shape != b.shape:
        a, b = a.mean(axis=0), b.mean(axis=0)
    diff, se = regression.excess(b - a, 0.0)
    c = stats.compare(0.0, 0.0, diff, se)
    return {"difference": diff, "se": se, "z": c.z, "verdict": c.verdict if math.isfinite(diff) else "diverged"}


def choose_lrs(lrs, sq_val, fail_ratio: float) -> dict:
    """The best constant rate on validation and the nearest rates on either side that clearly fail.

    Args:
      lrs: ascending constant learning rates, (n_lrs,).
      sq_val: per-point validation squared errors, (n_lrs, n_seeds, n_val); non-finite where diverged.
      fail_ratio: a failing rate's validation MSE is at least this multiple of the best's.

    Returns:
      {"best": index, "too_large": index or None, "too_small": index or None, "val_mse": per rate,
      "vs_best": paired difference to the best per rate, "fails": per rate}. A rate fails if it diverged or
      its validation MSE is significantly (> 2 s.e., paired by point and seed) above the best's and at least
      fail_ratio times it.
    """
    val = [mean_or_nan(v) for v in sq_val]
    finite = [i for i, v in enumerate(val) if math.isfinite(v)]
    if not finite:
        return {"best": None, "too_large": None, "too_small": None, "val_mse": val,
                "vs_best": [None] * len(lrs), "fails": [True] * len(lrs)}
    best = min(finite, key=lambda i: val[i])
    vs_best = [paired(sq_val[best], sq_val[i]) for i in range(len(lrs))]
    fails = [not math.isfinite(val[i]) or (vs_best[i]["verdict"] == "higher" and val[i] >= fail_ratio * val[best])
             for i in range(len(lrs))]
    above = [i for i in range(best + 1, len(lrs)) if fails[i]]
    below = [i for i in range(best - 1, -1, -1) if fails[i]]
    return {"best": best, "too_large": above[0] if above else None, "too_small": below[0] if below else None,
            "val_mse": val, "vs_best": vs_best, "fails": fails}


def select_architecture(rows: list[dict]) -> list[dict]:
    """Groups the exploration's configs over seeds: mean train/validation MSE, ascending validation MSE."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["depth"], r["activation"], r["width"], r["weight_decay"]), []).append(r)
    out = []
    for (depth, act, width, wd), members in groups.items():
        pred = np.stack([m["pred"] for m in members])
        out.append({"depth": depth, "activation": act, "width": width, "weight_decay": wd,
                    "params": padded_mlp.param_count(width, d_in=1, d_out=1, depth=depth),
                    "train_mse": mean_or_nan([m["train_mse"] for m in members]),
                    "val_mse": mean_or_nan([m["val_mse"] for m in members]),
                    "diverged": any(m["diverged"] for m in members), "pred": pred})
    return sorted(out, key=lambda g: (not math.isfinite(g["val_mse"]), g["val_mse"]))


def run(config: dict, out: Path) -> dict:
    x_all, y_all, truth_known = load_data(config)
    key = jax.random.key(config["seed"])
    split_key, val_key, init_key, nll_key = jax.random.split(key, 4)
    train_idx, test_idx = regression.split_indices(split_key, x_all.size, config["train_fraction"])
    fit_local, val_local = regression.split_indices(val_key, train_idx.size, 1 - config["val_fraction"])
    fit_idx, val_idx = train_idx[fit_local], train_idx[val_local]  # indices into x_all
    col = lambda a: jnp.asarray(np.asarray(a, np.float32)[:, None])  # noqa: E731 - (n,) -> (n, 1), no device cast
    x_tr, y_tr, x_te, y_te, x_fit, y_fit, x_val, y_val = (
        col(a[idx]) for idx in (train_idx, test_idx, fit_idx, val_idx) for a in (x_all, y_all))
    x_test, y_test = x_all[test_idx], y_all[test_idx]
    hidden = tuple(config["hidden"])
    noise_floor, noise_floor_se = regression.noise_variance_se(x_all[train_idx], y_all[train_idx])
    # the reference every error is measured against: the true model's per-point loss where the generator is
    # known (paired), else Rice's noise estimate (unpaired, no NLL reference)
    if truth_known:
        mu, sd = data.x_y_mean(x_all), data.x_y_std(x_all)
        ref_sq, ref_nll = (y_all - mu) ** 2, point_nll(mu, sd**2, y_all)
        sq_ref = lambda idx: ref_sq[idx]  # noqa: E731
        nll_ref = lambda idx: ref_nll[idx]  # noqa: E731
    else:
        sq_ref = lambda idx: (noise_floor, noise_floor_se)  # noqa: E731
        nll_ref = None

    # (c) and (d) in ONE vmapped call: constant rates x seeds and the schedule on the fit part of the training set
    # (validation: the rest), plus (c)'s model on the whole training set at the rate of (c) (last row)
    lrs = sweep_lrs(config)
    lr_tables = regime_schedules(config)
    n_rows, n_seeds = lr_tables.shape[0], config["lr_seeds"]
    seed_of_row = np.append(np.repeat(np.arange(n_seeds), n_rows), 0)  # (c) shares seed 0's initialisation
    keys = jax.vmap(lambda s: jax.random.fold_in(init_key, s))(jnp.asarray(seed_of_row))
    tables = np.concatenate([np.tile(lr_tables, (n_seeds, 1)),
                             np.full((1, config["steps"]), config["lr"], np.float32)])
    fit_mask = np.zeros(train_idx.size, np.float32)
    fit_mask[fit_local] = 1
    weights = np.concatenate([np.tile(fit_mask, (n_seeds * n_rows, 1)), np.ones((1, train_idx.size), np.float32)])
    reg_params, reg_curves = train_regimes(keys, (1, *hidden, 1), x_tr, y_tr, weights, 1 - fit_mask, tables)
    params = jax.tree.map(lambda leaf: leaf[-1], reg_params)  # (c)'s model
    curve_c = {"loss": reg_curves["loss"][-1]}
    pred = np.asarray(stacked_predict(jax.tree.map(lambda leaf: leaf[:-1], reg_params), x_tr))  # one compile
    pred = pred.reshape(n_seeds, n_rows, -1).transpose(1, 0, 2)  # (rows, seeds, training points)
    pred_fit, pred_val = pred[..., fit_local], pred[..., val_local]
    reg_curves = {k: v[:-1] for k, v in reg_curves.items()}

    ev = {k: np.asarray(v) for k, v in evaluate_mse_model(params, x_tr, y_tr, x_te, y_te).items()}
    y_train = y_all[train_idx]
    sq_tr, sq_te = (ev["mean_tr"] - y_train) ** 2, (ev["mean_te"] - y_test) ** 2
    homo_var = float(ev["train_mse"])
    homo = {"train_mse": float(ev["train_mse"]), "test_mse": float(ev["test_mse"]),
            "sigma": float(np.sqrt(ev["train_mse"])), "test_nll": float(ev["test_nll"]),
            "train_nll": float(np.mean(point_nll(ev["mean_tr"], homo_var, y_train))),
            "train_nll_closed_form": 0.5 * (math.log(2 * math.pi * homo_var) + 1),
            **calibration(ev["mean_te"], np.full_like(ev["mean_te"], ev["train_mse"]), y_test, x_test),
            "assessment": assess(sq_tr, sq_ref(train_idx), sq_te, sq_ref(test_idx))}
    homo["verdict"] = homo["assessment"]["verdict"]
    if nll_ref is not None:
        homo["nll_assessment"] = assess(point_nll(ev["mean_tr"], homo_var, y_train), nll_ref(train_idx),
                                        point_nll(ev["mean_te"], homo_var, y_test), nll_ref(test_idx))

    # (d) learning rates, chosen on validation
    sq_fit_rows, sq_val_rows = (pred_fit - y_all[fit_idx]) ** 2, (pred_val - y_all[val_idx]) ** 2
    choice = choose_lrs(lrs, sq_val_rows[:-1], config["fail_ratio"])
    const = lrs.index(float(config["lr"]))
    rows_of = {"too_large": choice["too_large"] if choice["too_large"] is not None else len(lrs) - 1,
               "too_small": choice["too_small"] if choice["too_small"] is not None else 0,
               "warmup_cosine": n_rows - 1, "constant": const}
    lr_regimes = {}
    for name, i in rows_of.items():
        lr_regimes[name] = {
            "final_train": mean_or_nan(sq_fit_rows[i]), "final_val": mean_or_nan(sq_val_rows[i]),
            "peak_lr": float(lr_tables[i].max()), "last_lr": float(lr_tables[i, -1]),
            "fails": bool(choice["fails"][i]) if i < len(lrs) else False, "row": int(i),
            # the seed-0 training curve of this row: half-way, lowest and last value
            "curve_mid": float(reg_curves["loss"][i][config["steps"] // 2]),
            "curve_min": float(np.min(reg_curves["loss"][i])), "curve_last": float(reg_curves["loss"][i][-1]),
            "assessment": assess(sq_fit_rows[i], sq_ref(fit_idx), sq_val_rows[i], sq_ref(val_idx))}
    lr_sweep = {"lrs": lrs, "seeds": n_seeds, "fail_ratio": config["fail_ratio"],
                "train_mse": [mean_or_nan(a) for a in sq_fit_rows[:-1]], "val_mse": choice["val_mse"],
                "val_se": [against(a, np.zeros(a.shape[-1]))[1] for a in sq_val_rows[:-1]],
                "vs_best": choice["vs_best"], "fails": choice["fails"],
                "best_lr": None if choice["best"] is None else lrs[choice["best"]],
                "too_large_found": choice["too_large"] is not None, "too_small_found": choice["too_small"] is not None,
                "schedule_vs_constant": paired(sq_val_rows[const], sq_val_rows[-1]),
                "schedule_vs_best": (paired(sq_val_rows[choice["best"]], sq_val_rows[-1])
                                     if choice["best"] is not None else None),
                "truth_val_mse": mean_or_nan(ref_sq[val_idx]) if truth_known else None}

    # (d) architectures (nndl.sweep), selected on validation; test once for the selected one
    x_eval = col(np.concatenate([x_all[fit_idx], x_all[val_idx], x_test]))
    n_fit, n_val = fit_idx.size, val_idx.size
    groups = select_architecture(explore_architectures(config, x_fit, y_fit, x_val, y_val, x_eval))
    y_eval = np.concatenate([y_all[fit_idx], y_all[val_idx], y_test])
    sel = groups[0]
    sq_sel = (sel["pred"] - y_eval) ** 2
    ref_eval = sq_ref(np.concatenate([fit_idx, val_idx, test_idx]))
    ref_part = (lambda sl: ref_eval) if isinstance(ref_eval, tuple) else (lambda sl: ref_eval[sl])  # noqa: E731
    fit_sl, val_sl, test_sl = slice(0, n_fit), slice(n_fit, n_fit + n_val), slice(n_fit + n_val, None)
    architectures = {
        "configs": [{k: g[k] for k in ("depth", "activation", "width", "weight_decay", "params", "train_mse",
                                       "val_mse", "diverged")} for g in groups],
        "selected": {**{k: sel[k] for k in ("depth", "activation", "width", "weight_decay", "params")},
                     "train_mse": mean_or_nan(sq_sel[:, fit_sl]), "val_mse": mean_or_nan(sq_sel[:, val_sl]),
                     "test_mse": mean_or_nan(sq_sel[:, test_sl]),
                     "val_assessment": assess(sq_sel[:, fit_sl], ref_part(fit_sl), sq_sel[:, val_sl], ref_part(val_sl)),
                     "test_assessment": assess(sq_sel[:, fit_sl], ref_part(fit_sl), sq_sel[:, test_sl],
                                               ref_part(test_sl))},
        "vs_baseline": paired(sq_val_rows[const], sq_sel[:, val_sl]),  # baseline: the (c) net, same split, lr
        "seeds": config["arch_seeds"], "n_configs": len(groups) * config["arch_seeds"]}

    # (e/f) heteroscedastic: mean and variance heads trained on the Gaussian NLL (warm-up + cosine, as (d))
    nll_params, curve_f = train(functools.partial(nll_loss, x=x_tr, y=y_tr, var_floor=config["var_floor"]),
                                lambda hp: optim.adam(warmup_cosine(config, config["nll_lr"])),
                                nll_key, (1, *hidden, 2), config["steps"], "(f) NLL fit")
    evh = {k: np.asarray(v) for k, v in evaluate_nll_model(nll_params, x_tr, y_tr, x_te, y_te,
                                                            config["var_floor"]).items()}
    hetero = {**{k: float(evh[k]) for k in ("train_mse", "test_mse", "train_nll", "test_nll")},
              **calibration(evh["mean_te"], evh["var_te"], y_test, x_test),
              "assessment": assess((evh["mean_tr"] - y_train) ** 2, sq_ref(train_idx),
                                   (evh["mean_te"] - y_test) ** 2, sq_ref(test_idx))}
    hetero["verdict"] = hetero["assessment"]["verdict"]
    if nll_ref is not None:
        hetero["nll_assessment"] = assess(point_nll(evh["mean_tr"], evh["var_tr"], y_train), nll_ref(train_idx),
                                          point_nll(evh["mean_te"], evh["var_te"], y_test), nll_ref(test_idx))
        hetero["vs_homoscedastic_test_nll"] = paired(point_nll(ev["mean_te"], homo_var, y_test),
                                                     point_nll(evh["mean_te"], evh["var_te"], y_test))

    metrics = {"n_train": int(train_idx.size), "n_test": int(test_idx.size), "n_fit": int(n_fit),
               "n_val": int(n_val), "noise_floor": noise_floor, "noise_floor_se": noise_floor_se,
               "truth_known": truth_known, "homoscedastic": homo, "lr_regimes": lr_regimes, "lr_sweep": lr_sweep,
               "architectures": architectures, "heteroscedastic": hetero,
               "settings": {k: config[k] for k in ("hidden", "lr", "steps", "nll_lr", "var_floor")}}
    order = np.argsort(x_test)
    curves = {"x_test": x_test[order], "y_test": y_test[order],
              "mse_mean": ev["mean_te"][order], "mse_sigma": np.full(order.size, homo["sigma"]),
              "nll_mean": evh["mean_te"][order], "nll_sigma": np.sqrt(evh["var_te"][order]),
              "fit_loss": curve_c["loss"], "nll_loss": curve_f["loss"], "lr_tables": lr_tables,
              **{f"{name}_{k}": reg_curves[k][i] for name, i in rows_of.items() for k in ("loss", "val")},
              "sweep_loss": reg_curves["loss"], "sweep_val": reg_curves["val"],
              # training split, unsorted, with both models' predictions (for checking the metrics)
              "x_train": x_all[train_idx], "y_train": y_train, "mse_mean_train": ev["mean_tr"],
              "nll_mean_train": evh["mean_tr"], "nll_var_train": evh["var_tr"],
              "x_fit": x_all[fit_idx], "y_fit": y_all[fit_idx], "x_val": x_all[val_idx], "y_val": y_all[val_idx],
              "lr_pred_fit": pred_fit, "lr_pred_val": pred_val, "selected_pred": sel["pred"],
              "x_eval": np.concatenate([x_all[fit_idx], x_all[val_idx], x_test]), "y_eval": y_eval}
    if truth_known:
        x_sorted = curves["x_test"]
        curves.update(true_mean=data.x_y_mean(x_sorted), true_sigma=data.x_y_std(x_sorted))
        true_var = curves["true_sigma"] ** 2
        metrics["oracle"] = {"test_nll": float(jax.jit(mean_nll)(curves["true_mean"], true_var, curves["y_test"])),
                             **calibration(curves["true_mean"], true_var, curves["y_test"], x_sorted),
                             "noise_var": float(np.mean(data.x_y_std(x_all[train_idx]) ** 2)),
                             "train_mse": float(np.mean(ref_sq[train_idx])),
                             "test_mse": float(np.mean(ref_sq[test_idx])),
                             "val_mse": float(np.mean(ref_sq[val_idx])), "fit_mse": float(np.mean(ref_sq[fit_idx])),
                             "train_nll": float(np.mean(ref_nll[train_idx]))}
    runio.save_curves(out / "curves.npz", **curves)
    plot(curves, metrics, out)
    return metrics


# ------------------------------------------------------------------ figures
def plot(curves: dict, metrics: dict, out: Path) -> None:
    x, y = curves["x_test"], curves["y_test"]
    truth = "true_mean" in curves
    sw, lr = metrics["lr_sweep"], metrics["lr_regimes"]

    fig, axes = subplots(1, 3, width=4.4, height=4.0)
    steps = np.arange(1, curves["fit_loss"].size + 1)
    for i, name in enumerate(REGIMES):
        label = f"{name.replace('_', ' ')} (peak {lr[name]['peak_lr']:g})"
        axes[0, 0].plot(steps, curves[f"{name}_loss"], color=f"C{i}", lw=1.2)
        axes[0, 0].plot(steps, curves[f"{name}_val"], color=f"C{i}", lw=1.2, ls="--")
        axes[0, 1].plot(steps, curves["lr_tables"][lr[name]["row"]], color=f"C{i}", label=label)
    ref = sw["truth_val_mse"] if sw["truth_val_mse"] is not None else metrics["noise_floor"]
    ref_label = "true model, validation" if sw["truth_val_mse"] is not None else "noise floor (Rice estimate)"
    axes[0, 0].axhline(ref, color="k", lw=0.8, ls=":")
    axes[0, 0].set(xscale="log", yscale="log", xlabel="step", ylabel="MSE",
                   title="(d) train (solid) / validation (dashed) MSE")
    axes[0, 1].set(xscale="log", yscale="log", xlabel="step", ylabel="learning rate", title="(d) learning rates")
    val = np.array([np.nan if v is None else v for v in sw["val_mse"]])
    tr = np.array([np.nan if v is None else v for v in sw["train_mse"]])
    se = np.array([np.nan if v is None else v for v in sw["val_se"]])
    axes[0, 2].errorbar(sw["lrs"], val, yerr=2 * se, marker="o", color="C0", label="validation (+- 2 s.e.)")
    axes[0, 2].plot(sw["lrs"], tr, marker="s", color="C1", label="train")
    axes[0, 2].axhline(ref, color="k", lw=0.8, ls=":", label=ref_label)
    axes[0, 2].axhline(lr["warmup_cosine"]["final_val"] or np.nan, color="C2", lw=1, ls="--",
                       label="warm-up + cosine, validation")
    axes[0, 2].set(xscale="log", yscale="log", xlabel="constant learning rate", ylabel="final MSE",
                   title=f"(d) sweep, {sw['seeds']} seed(s), {curves['fit_loss'].size} Adam steps")
    axes[0, 2].legend(fontsize=7)
    styles = [plt.Line2D([], [], color=f"C{i}", label=r.replace("_", " ")) for i, r in enumerate(REGIMES)]
    styles += [plt.Line2D([], [], color="k", label="train"), plt.Line2D([], [], color="k", ls="--", label="validation"),
               plt.Line2D([], [], color="k", ls=":", lw=0.8, label=ref_label)]
    fig.legend(handles=styles, loc="outside lower center", ncol=7, fontsize=8)
    save_figure(fig, out / "lr_regimes.png")

    configs = metrics["architectures"]["configs"]
    fig, axes = subplots(1, 1, width=max(6.0, 0.35 * len(configs) + 2), height=4.0)
    ax = axes[0, 0]
    pos = np.arange(len(configs))
    ax.plot(pos, [c["train_mse"] if c["train_mse"] is not None else np.nan for c in configs], "s", color="C1",
            label="train")
    ax.plot(pos, [c["val_mse"] if c["val_mse"] is not None else np.nan for c in configs], "o", color="C0",
            label="validation")
    if sw["truth_val_mse"] is not None:
        ax.axhline(sw["truth_val_mse"], color="k", lw=0.8, ls=":", label="true model, validation")
    ax.set_xticks(pos, [f"{c['depth']}x{c['width']} {c['activation']}\nwd {c['weight_decay']:g}" for c in configs],
                  rotation=90, fontsize=7)
    ax.set(ylabel="final MSE", title="(d) architectures, sorted by validation MSE (selected: leftmost)")
    ax.legend(fontsize=8)
    save_figure(fig, out / "architectures.png")

    fig, axes = subplots(1, 3, width=4.6, height=4.0)
    for ax, key, title in ((axes[0, 0], "mse", "(c) homoscedastic (MSE, shared sigma)"),
                           (axes[0, 1], "nll", "(f) heteroscedastic (Gaussian NLL)")):
        m, s = curves[f"{key}_mean"], curves[f"{key}_sigma"]
        ax.scatter(x, y, s=5, alpha=0.4, color="0.45", label="test points")
        ax.plot(x, m, color="C0", label="predicted mean")
        ax.fill_between(x, m - 2 * s, m + 2 * s, color="C0", alpha=0.2, label="mean +- 2 sigma")
        if truth:
            ax.plot(x, curves["true_mean"] + 2 * curves["true_sigma"], "k--", lw=1, label="true mean +- 2 sigma")
            ax.plot(x, curves["true_mean"] - 2 * curves["true_sigma"], "k--", lw=1)
        block = metrics["homoscedastic" if key == "mse" else "heteroscedastic"]
        ax.set(xlabel="x", ylabel="y",
               title=f"{title}\ntrain/test MSE {block['train_mse']:.3f}/{block['test_mse']:.3f} ({block['verdict']})"
                     f"\ntest NLL {block['test_nll']:.3f}, in 2 sigma {block['coverage_2sigma']:.1%}")
        ax.legend(fontsize=7, loc="upper left")
    ax = axes[0, 2]
    ax.plot(x, curves["mse_sigma"], color="C1", label="homoscedastic sigma")
    ax.plot(x, curves["nll_sigma"], color="C0", label="predicted sigma(x)")
    if truth:
        ax.plot(x, curves["true_sigma"], "k--", label="true sigma(x)")
    ax.set(xlabel="x", ylabel="sigma", title="(f) predicted noise level")
    ax.legend(fontsize=8)
    save_figure(fig, out / "heteroscedastic.png")


# ------------------------------------------------------------------- report
VERDICT_KEYS = {v: v.replace(" ", "_") for v in regression.FIT_VERDICTS}
CODE = {
    "a": ["nndl.regression.split_indices", "experiments.heteroscedastic.load_data"],
    "b": ["experiments.heteroscedastic.mse_loss"],
    "c": ["experiments.heteroscedastic.predict", "experiments.heteroscedastic.train_regimes",
          "nndl.regression.excess", "nndl.regression.fit_verdict"],
    "d": ["experiments.heteroscedastic.warmup_cosine", "experiments.heteroscedastic.regime_schedules",
          "experiments.heteroscedastic.choose_lrs", "experiments.heteroscedastic.explore_architectures",
          "experiments.heteroscedastic.select_architecture"],
    "e": ["nndl.losses.gaussian_nll", "nndl.regression.gaussian_head"],
    "f": ["experiments.heteroscedastic.gaussian_predict", "experiments.heteroscedastic.nll_loss",
          "experiments.heteroscedastic.train"],
}


def verdict_text(assessment: dict | None, what: str, heldout: str, truth: bool = True) -> str:
    """The verdict sentence of `regression.fit_verdict`'s result, chosen by its verdict (text in the .md file)."""
    if assessment is None:
        return ""
    key = VERDICT_KEYS.get(assessment["verdict"], "diverged")
    ref = "the true model's" if truth else "Rice's noise estimate"
    below = (templates.render(TEXT, "below_truth", {"what": what, "ref": ref})
             if key == "overfitting" and assessment["train"]["vs_truth"] == "lower" else "")
    return templates.render(TEXT, f"verdict_{key}", {"a": assessment, "what": what, "heldout": heldout,
                                                     "below_truth": below, "ref": ref})


def _fmt(v, spec=".4f") -> str:
    return "n/a" if v is None else format(v, spec)


def _lr_side(metrics: dict, side: str) -> str:
    sw, reg = metrics["lr_sweep"], metrics["lr_regimes"][side]
    i = reg["row"]
    d = sw["vs_best"][i] or {"difference": None, "se": None}
    found = sw[f"{side}_found"]
    key = f"lr_{side.split('_')[1]}_{'found' if found else 'none'}"
    text = templates.render(TEXT, key, {"lr": sw["lrs"][i], "val": sw["val_mse"][i], "diff": d["difference"],
                                        "se": d["se"], "steps": metrics["settings"]["steps"]})
    return text + " " + templates.render(TEXT, "lr_curve", {**reg, "mid_step": metrics["settings"]["steps"] // 2})


def report(metrics: dict) -> list[dict]:
    h, het, lr, sw, ar = (metrics[k] for k in ("homoscedastic", "heteroscedastic", "lr_regimes", "lr_sweep",
                                                "architectures"))
    st = metrics["settings"]
    hidden = "-".join(str(w) for w in st["hidden"])
    truth = bool(metrics["truth_known"])
    o = metrics.get("oracle", {})
    fields = {**metrics, "hidden": hidden, "lr": st["lr"], "steps": st["steps"], "nll_lr": st["nll_lr"],
              "var_floor": st["var_floor"], "total": metrics["n_train"] + metrics["n_test"]}

    c_text = templates.render(TEXT, "fit_c_text" if truth else "fit_c_text_no_truth",
                              {**fields, "verdict": verdict_text(h["assessment"], "MSE", "test", truth)})
    c_table = [["", "train", "test"], ["MSE, 1-" + hidden + "-1 net", h["train_mse"], h["test_mse"]]]
    if truth:
        c_table += [["MSE, true model", o["train_mse"], o["test_mse"]],
                    ["excess MSE (± s.e.)", f"{_fmt(h['assessment']['train']['excess'], '+.4f')} ± "
                     f"{_fmt(h['assessment']['train']['se'])}", f"{_fmt(h['assessment']['heldout']['excess'], '+.4f')}"
                     f" ± {_fmt(h['assessment']['heldout']['se'])}"],
                    ["NLL, shared sigma", h["train_nll"], h["test_nll"]],
                    ["NLL, true model", o["train_nll"], o["test_nll"]]]
        c_text += " " + templates.render(TEXT, "homo_nll_text", {**fields, "low_cov": h["coverage_2sigma_halves"][0],
                                                                  "high_cov": h["coverage_2sigma_halves"][1]})

    sched = sw["schedule_vs_constant"]
    sched_key = "diverged" if sched["verdict"] == "diverged" else sched["verdict"].replace(" ", "_")
    best = sw["best_lr"]
    best_val = sw["val_mse"][sw["lrs"].index(best)] if best is not None else None
    lr_fields = {**fields, "n_lrs": len(sw["lrs"]), "lr_min": min(sw["lrs"]), "lr_max": max(sw["lrs"]),
                 "best_val": best_val, "truth_val": _fmt(sw["truth_val_mse"]),
                 "large": _lr_side(metrics, "too_large"), "small": _lr_side(metrics, "too_small")}
    if best is None:
        lr_fields["lr_sweep"] = {**sw, "best_lr": math.nan}
    lr_text = " ".join([
        templates.render(TEXT, "lr_text", lr_fields) + (" " + templates.render(TEXT, "one_seed_note", {})
                                                        if sw["seeds"] == 1 else ""),
        templates.render(TEXT, f"schedule_{sched_key}", {"lr": fields["lr"], "sched": lr["warmup_cosine"]["final_val"],
                                                          "const": lr["constant"]["final_val"], "d": sched}),
        templates.render(TEXT, "schedule_note", {**fields, "sched_train": lr["warmup_cosine"]["final_train"]})])
    lr_table = [["learning rate", "train MSE", "validation MSE", "val. vs best (± s.e.)", "clearly fails"]]
    for i, rate in enumerate(sw["lrs"]):
        d = sw["vs_best"][i] or {}
        lr_table.append([rate, sw["train_mse"][i], sw["val_mse"][i],
                         f"{_fmt(d.get('difference'), '+.4f')} ± {_fmt(d.get('se'))}",
                         "yes" if sw["fails"][i] else "no"])
    lr_table.append(["warm-up + cosine", lr["warmup_cosine"]["final_train"], lr["warmup_cosine"]["final_val"],
                     f"{_fmt((sw['schedule_vs_best'] or {}).get('difference'), '+.4f')} ± "
                     f"{_fmt((sw['schedule_vs_best'] or {}).get('se'))}", ""])

    s = ar["selected"]
    vb = ar["vs_baseline"]
    vb_key = "diverged" if vb["verdict"] == "diverged" else vb["verdict"].replace(" ", "_")
    d_neg = {**vb, "difference": -vb["difference"] if vb["verdict"] == "lower" else vb["difference"]}
    uniq = lambda k: ", ".join(format(v, "g") if isinstance(v, float) else str(v)  # noqa: E731
                               for v in sorted({c[k] for c in ar["configs"]}))
    arch_text = templates.render(TEXT, "arch_text", {
        **fields, "s": s, "depths": uniq("depth"), "activations": uniq("activation"), "widths": uniq("width"),
        "decays": uniq("weight_decay"),
        "n_groups": len(ar["configs"]), "truth_fit": _fmt(o.get("fit_mse")), "truth_val": _fmt(o.get("val_mse")),
        "truth_test": _fmt(o.get("test_mse")),
        "vs_baseline": templates.render(TEXT, f"arch_{vb_key}",
                                        {"hidden": hidden, "d": d_neg, "n_val": metrics["n_val"]}),
        "verdict": verdict_text(s["test_assessment"], "MSE", "test", truth)})
    arch_table = [["depth", "width", "activation", "weight decay", "parameters", "train MSE", "validation MSE"],
                  *[[c["depth"], c["width"], c["activation"], c["weight_decay"], c["params"], c["train_mse"],
                     c["val_mse"]] for c in ar["configs"]]]

    f_fields = {**fields, "low_cov": het["coverage_2sigma_halves"][0], "high_cov": het["coverage_2sigma_halves"][1],
                "mse_verdict": verdict_text(het["assessment"], "MSE", "test", truth),
                "nll_verdict": verdict_text(het.get("nll_assessment"), "NLL", "test")}
    if truth:
        v = het["vs_homoscedastic_test_nll"]["verdict"]
        f_fields["vs_homo"] = {"lower": "lower, significant", "higher": "higher, significant"}.get(v, v)
    f_table = [["", "homoscedastic", "heteroscedastic"] + (["true model"] if truth else []),
               ["train NLL", h["train_nll"], het["train_nll"]] + ([o["train_nll"]] if truth else []),
               ["test NLL", h["test_nll"], het["test_nll"]] + ([o["test_nll"]] if truth else []),
               ["train MSE", h["train_mse"], het["train_mse"]] + ([o["train_mse"]] if truth else []),
               ["test MSE", h["test_mse"], het["test_mse"]] + ([o["test_mse"]] if truth else [])]
    for label, key, k in (("inside +-1 sigma (0.683 ideal)", "coverage_1sigma", None),
                          ("inside +-2 sigma (0.954 ideal)", "coverage_2sigma", None),
                          ("inside +-2 sigma, low-x half", "coverage_2sigma_halves", 0),
                          ("inside +-2 sigma, high-x half", "coverage_2sigma_halves", 1)):
        pick = (lambda b: b[key]) if k is None else (lambda b: b[key][k])  # noqa: E731
        f_table.append([label, pick(h), pick(het)] + ([pick(o)] if truth else []))

    return [
        {"question": "(a) load x_y.csv and split it randomly 66/33", "ids": ["000 §3(a)"],
         "table": [["training points", metrics["n_train"]], ["test points", metrics["n_test"]],
                   ["(d) of which fit / validation", f"{metrics['n_fit']} / {metrics['n_val']}"]],
         "text": templates.render(TEXT, "split_text", fields), "code": CODE["a"]},
        {"question": "(b) why the MSE is a reasonable log-likelihood (homoscedastic Gaussian)", "ids": ["000 §3(b)"],
         "derivation": templates.render(TEXT, "mse_derivation", fields),
         "text": templates.render(TEXT, "mse_text", fields), "code": CODE["b"]},
        {"question": "(c) MLP 1-32-64-1 fitted by MSE; under- or over-fitting?", "ids": ["000 §3(c)"],
         "figures": ["heteroscedastic.png"], "table": c_table, "text": c_text, "code": CODE["c"]},
        {"question": "(d) learning rate too large, too small, warm-up + cosine annealing", "ids": ["000 §3(d)"],
         "figures": ["lr_regimes.png"], "table": lr_table, "text": lr_text, "code": CODE["d"][:3]},
        {"question": "(d) architecture exploration, selected on validation", "ids": ["000 §3(d)"],
         "figures": ["architectures.png"], "table": arch_table, "text": arch_text, "code": CODE["d"][3:]},
        {"question": "(e) log-likelihood of the heteroscedastic model", "ids": ["000 §3(e)"],
         "derivation": templates.render(TEXT, "nll_derivation", fields),
         "text": templates.render(TEXT, "nll_text", fields), "code": CODE["e"]},
        {"question": "(f) mean and variance network: fit, calibration, under- or over-fitting?", "ids": ["000 §3(f)"],
         "figures": ["heteroscedastic.png"], "table": f_table,
         "text": templates.render(TEXT, "fit_f_text" if truth else "fit_f_text_no_truth", f_fields),
         "code": CODE["f"]},
    ]


def checks(metrics: dict) -> list[dict]:
    h, het, sw = metrics["homoscedastic"], metrics["heteroscedastic"], metrics["lr_sweep"]
    n = metrics["n_test"]
    rows = []
    for k, p in GAUSSIAN_COVERAGE.items():
        se = np.sqrt(p * (1 - p) / n)
        rows.append(check(f"heteroscedastic coverage of +-{k} sigma", p, het[f"coverage_{k}sigma"],
                          f"4 binomial std errors ({4 * se:.3f})", abs(het[f"coverage_{k}sigma"] - p) <= 4 * se))
    rows.append(check("homoscedastic training NLL at sigma^2 = MSE equals (log(2 pi MSE) + 1)/2",
                      h["train_nll_closed_form"], h["train_nll"], "1e-5 rel (float32 predictions)",
                      abs(h["train_nll"] / h["train_nll_closed_form"] - 1) < 1e-5
                      if h["train_nll_closed_form"] else abs(h["train_nll"]) < 1e-5))
    if "vs_homoscedastic_test_nll" in het:
        d = het["vs_homoscedastic_test_nll"]
        rows.append(check("heteroscedastic test NLL below homoscedastic (paired, 2 s.e.)", 0.0, d["difference"],
                          f"2 s.e. ({_fmt(d['se'])})", d["verdict"] == "lower"))
    rows.append(check("too-large and too-small rates found in the grid (each clearly fails)", True,
                      bool(sw["too_large_found"] and sw["too_small_found"]), "both found",
                      bool(sw["too_large_found"] and sw["too_small_found"])))
    return rows


def main(argv=None) -> int:
    return cli.run_experiment(NAME, doc=__doc__, get_config=get_config, run=run,
                              keys=KEYS, validate=validate, argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
