"""heteroscedastic: config -> splits, the engine's fits, diagnostics -> metrics.json, curves.npz, the figures.

A diverged fit (the engine flags a step with a non-finite loss or parameters and keeps the last finite
state) is reported as diverged: its numbers are null (NaN until written), its block carries
`"diverged": true`, and its verdict says "diverged".
"""

from __future__ import annotations

import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from experiments.heteroscedastic import NAME, architectures, model, training
from experiments.heteroscedastic.diagnostics import (
    against,
    assess,
    calibration,
    choose_lrs,
    mean_or_nan,
    noise_variance_se,
    paired,
    point_nll,
)
from experiments.heteroscedastic.plots import plot
from nndl import data
from nndl.run import cli, runio


def load_data(config: dict) -> tuple[np.ndarray, np.ndarray, bool]:
    """(x, y, truth_known): the shipped set has a documented generator, a user's --data does not. Values
    beyond float32's range are refused (the fits train in float32: they would be infinite, not large)."""
    path = Path(config["data"]) if config["data"] else data.X_Y_PATH
    columns = data.load_csv(path, ("x", "y"), min_rows=10, max_abs=data.files.FLOAT32_MAX)
    return columns["x"], columns["y"], config["data"] is None


def nan_where_diverged(diverged, values: dict) -> dict:
    """The values of a fit as numpy arrays, all NaN if it diverged (its last finite state is not a result)."""
    return {k: np.full(np.shape(v), np.nan) if diverged else np.asarray(v) for k, v in values.items()}


def homoscedastic(ev: dict, diverged: bool, y_train, y_test, x_test, sq_ref, nll_ref, train_idx, test_idx) -> dict:
    """(c): the MSE net's errors, its shared-variance NLL, calibration and verdicts against the references."""
    sq_tr, sq_te = (ev["mean_tr"] - y_train) ** 2, (ev["mean_te"] - y_test) ** 2
    homo_var = float(ev["train_mse"])
    homo = {"train_mse": homo_var, "test_mse": float(ev["test_mse"]),
            "sigma": float(np.sqrt(ev["train_mse"])), "test_nll": float(ev["test_nll"]),
            "train_nll": float(np.mean(point_nll(ev["mean_tr"], homo_var, y_train))),
            "train_nll_closed_form": 0.5 * (math.log(2 * math.pi * homo_var) + 1) if homo_var > 0 else math.nan,
            **calibration(ev["mean_te"], np.full_like(ev["mean_te"], homo_var), y_test, x_test),
            "assessment": assess(sq_tr, sq_ref(train_idx), sq_te, sq_ref(test_idx)), "diverged": bool(diverged)}
    homo["verdict"] = homo["assessment"]["verdict"]
    if nll_ref is not None:
        homo["nll_assessment"] = assess(point_nll(ev["mean_tr"], homo_var, y_train), nll_ref(train_idx),
                                        point_nll(ev["mean_te"], homo_var, y_test), nll_ref(test_idx))
    return homo


def learning_rates(config: dict, lr_tables, curves: dict, diverged, sq_fit_rows, sq_val_rows, sq_ref, idx: dict,
                   truth_val_mse) -> tuple[dict, dict, dict]:
    """(d): the rate chosen on validation, the nearest clear failures, the schedule vs the constant rate of (c).

    Args:
      curves: "loss", "val" (rows, steps) of seed 0; diverged: (rows, seeds) engine flags.
      sq_fit_rows, sq_val_rows: per-point squared errors (rows, seeds, points); NaN where diverged.
      idx: the fit and val index sets (into the data's rows).

    Returns:
      (lr_regimes, lr_sweep, the row of each regime).
    """
    lrs = training.sweep_lrs(config)
    n_rows = lr_tables.shape[0]
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
            "diverged": bool(np.any(diverged[i])),
            # the seed-0 training curve of this row: half-way, lowest and last value
            "curve_mid": float(curves["loss"][i][config["steps"] // 2]),
            "curve_min": float(np.min(curves["loss"][i])), "curve_last": float(curves["loss"][i][-1]),
            "assessment": assess(sq_fit_rows[i], sq_ref(idx["fit"]), sq_val_rows[i], sq_ref(idx["val"]))}
    lr_sweep = {"lrs": lrs, "seeds": config["lr_seeds"], "fail_ratio": config["fail_ratio"],
                "train_mse": [mean_or_nan(a) for a in sq_fit_rows[:-1]], "val_mse": choice["val_mse"],
                "val_se": [against(a, np.zeros(a.shape[-1]))[1] for a in sq_val_rows[:-1]],
                "vs_best": choice["vs_best"], "fails": choice["fails"],
                "diverged": [bool(np.any(d)) for d in diverged[:-1]],
                "best_lr": None if choice["best"] is None else lrs[choice["best"]],
                "too_large_found": choice["too_large"] is not None, "too_small_found": choice["too_small"] is not None,
                "schedule_vs_constant": paired(sq_val_rows[const], sq_val_rows[-1]),
                "schedule_vs_best": (paired(sq_val_rows[choice["best"]], sq_val_rows[-1])
                                     if choice["best"] is not None else None),
                "truth_val_mse": truth_val_mse}
    return lr_regimes, lr_sweep, rows_of


def explored(config: dict, groups: list[dict], y_eval, sq_ref, idx: dict, baseline_sq_val) -> dict:
    """(d): the architectures ranked on validation; the selected one's test errors, measured once."""
    sel = groups[0]
    sq_sel = (sel["pred"] - y_eval) ** 2
    n_fit, n_val = idx["fit"].size, idx["val"].size
    ref_eval = sq_ref(np.concatenate([idx["fit"], idx["val"], idx["test"]]))
    ref_part = (lambda sl: ref_eval) if isinstance(ref_eval, tuple) else (lambda sl: ref_eval[sl])
    fit_sl, val_sl, test_sl = slice(0, n_fit), slice(n_fit, n_fit + n_val), slice(n_fit + n_val, None)
    return {
        "configs": [{k: g[k] for k in ("depth", "activation", "width", "weight_decay", "params", "train_mse",
                                       "val_mse", "diverged")} for g in groups],
        "selected": {**{k: sel[k] for k in ("depth", "activation", "width", "weight_decay", "params", "diverged")},
                     "train_mse": mean_or_nan(sq_sel[:, fit_sl]), "val_mse": mean_or_nan(sq_sel[:, val_sl]),
                     "test_mse": mean_or_nan(sq_sel[:, test_sl]),
                     "val_assessment": assess(sq_sel[:, fit_sl], ref_part(fit_sl), sq_sel[:, val_sl], ref_part(val_sl)),
                     "test_assessment": assess(sq_sel[:, fit_sl], ref_part(fit_sl), sq_sel[:, test_sl],
                                               ref_part(test_sl))},
        "vs_baseline": paired(baseline_sq_val, sq_sel[:, val_sl]),  # baseline: the (c) net, same split, lr
        "seeds": config["arch_seeds"], "n_configs": len(groups) * config["arch_seeds"]}


def heteroscedastic(evh: dict, diverged: bool, ev: dict, y_train, y_test, x_test, sq_ref, nll_ref, train_idx,
                    test_idx) -> dict:
    """(f): the mean-and-variance net's errors, NLL, calibration, verdicts, and its test NLL against (c)'s."""
    hetero = {**{k: float(evh[k]) for k in ("train_mse", "test_mse", "train_nll", "test_nll")},
              **calibration(evh["mean_te"], evh["var_te"], y_test, x_test),
              "assessment": assess((evh["mean_tr"] - y_train) ** 2, sq_ref(train_idx),
                                   (evh["mean_te"] - y_test) ** 2, sq_ref(test_idx)), "diverged": bool(diverged)}
    hetero["verdict"] = hetero["assessment"]["verdict"]
    if nll_ref is not None:
        hetero["nll_assessment"] = assess(point_nll(evh["mean_tr"], evh["var_tr"], y_train), nll_ref(train_idx),
                                          point_nll(evh["mean_te"], evh["var_te"], y_test), nll_ref(test_idx))
        hetero["vs_homoscedastic_test_nll"] = paired(point_nll(ev["mean_te"], float(ev["train_mse"]), y_test),
                                                     point_nll(evh["mean_te"], evh["var_te"], y_test))
    return hetero


def checkpoints(config: dict, out: Path) -> list[Path]:
    """The engine checkpoints of a run: kept while it runs (an interruption resumes every finished fit), removed
    at its end."""
    arch = [Path(architectures.checkpoint_path(out / "checkpoint_arch", d, a))
            for d in config["arch_depths"] for a in config["arch_activations"]]
    return [out / "checkpoint_lr.npz", *arch, out / "checkpoint_nll.npz"]


def run(config: dict, out: Path) -> dict:
    x_all, y_all, truth_known = load_data(config)
    key = jax.random.key(config["seed"])
    split_key, val_key, init_key, nll_key = jax.random.split(key, 4)
    train_idx, test_idx = data.split_indices(split_key, x_all.size, config["train_fraction"])
    fit_local, val_local = data.split_indices(val_key, train_idx.size, 1 - config["val_fraction"])
    idx = {"train": train_idx, "test": test_idx, "fit": train_idx[fit_local], "val": train_idx[val_local]}

    def col(a):  # (n,) -> (n, 1) float32
        return jnp.asarray(np.asarray(a, np.float32)[:, None])

    x_tr, y_tr, x_te, y_te = (col(a[idx[part]]) for part in ("train", "test") for a in (x_all, y_all))
    x_test, y_test, y_train = x_all[test_idx], y_all[test_idx], y_all[train_idx]
    noise_floor, noise_floor_se = noise_variance_se(x_all[train_idx], y_all[train_idx])
    # the reference every error is measured against: the true model's per-point loss where the generator is
    # known (paired), else Rice's noise estimate (unpaired, no NLL reference)
    if truth_known:
        mu, sd = data.x_y_mean(x_all), data.x_y_std(x_all)
        ref_sq, ref_nll = (y_all - mu) ** 2, point_nll(mu, sd**2, y_all)
        sq_ref, nll_ref = ref_sq.__getitem__, ref_nll.__getitem__
    else:
        def sq_ref(i):
            return noise_floor, noise_floor_se

        nll_ref = None

    # (c) and (d) in ONE engine run: rates x seeds and the schedule on the fit points, plus (c)'s model (last)
    fit_mask = np.zeros(train_idx.size, np.float32)
    fit_mask[fit_local] = 1
    grid, fits, lr_tables = training.fit_regimes(config, init_key, x_tr, y_tr, fit_mask,
                                                 checkpoint=out / "checkpoint_lr.npz")
    c_params = jax.tree.map(lambda leaf: leaf[-1], fits.params)
    pred = np.array(model.stacked_predict(jax.tree.map(lambda leaf: leaf[:-1], fits.params), x_tr))
    pred[fits.diverged[:-1]] = np.nan
    pred = grid.unflatten(pred).transpose(1, 0, 2)  # (rows, seeds, training points)
    pred_fit, pred_val = pred[..., fit_local], pred[..., val_local]
    sweep_curves = {k: v[:-1] for k, v in fits.curves.items()}  # seed 0's rows come first

    ev = nan_where_diverged(fits.diverged[-1], model.evaluate_mse_model(c_params, x_tr, y_tr, x_te, y_te))
    homo = homoscedastic(ev, fits.diverged[-1], y_train, y_test, x_test, sq_ref, nll_ref, train_idx, test_idx)

    sq_fit_rows, sq_val_rows = (pred_fit - y_all[idx["fit"]]) ** 2, (pred_val - y_all[idx["val"]]) ** 2
    lr_regimes, lr_sweep, rows_of = learning_rates(
        config, lr_tables, sweep_curves, grid.unflatten(fits.diverged[:-1]).T, sq_fit_rows, sq_val_rows, sq_ref,
        idx, mean_or_nan(ref_sq[idx["val"]]) if truth_known else None)

    # (d) architectures (nndl.sweep), selected on validation; test once for the selected one
    eval_idx = np.concatenate([idx["fit"], idx["val"], test_idx])
    groups = architectures.select_architecture(architectures.explore_architectures(
        config, col(x_all[idx["fit"]]), col(y_all[idx["fit"]]), col(x_all[idx["val"]]), col(y_all[idx["val"]]),
        col(x_all[eval_idx]), checkpoint=out / "checkpoint_arch"))
    const = lr_regimes["constant"]["row"]
    arch = explored(config, groups, y_all[eval_idx], sq_ref, idx, sq_val_rows[const])

    # (e/f) heteroscedastic: mean and variance heads trained on the Gaussian NLL (warm-up + cosine, as (d))
    nll_fit = training.fit_gaussian(config, nll_key, x_tr, y_tr, checkpoint=out / "checkpoint_nll.npz")
    nll_params = jax.tree.map(lambda leaf: leaf[0], nll_fit.params)
    evh = nan_where_diverged(nll_fit.diverged[0], model.evaluate_nll_model(nll_params, x_tr, y_tr, x_te, y_te,
                                                                           config["var_floor"]))
    hetero = heteroscedastic(evh, nll_fit.diverged[0], ev, y_train, y_test, x_test, sq_ref, nll_ref, train_idx,
                             test_idx)

    diverged = [*fits.diverged, *(d for g in groups for d in np.atleast_1d(g["diverged_seeds"])), *nll_fit.diverged]
    cli.warn_diverged(NAME, int(np.sum(diverged)), len(diverged))
    metrics = {"n_train": int(train_idx.size), "n_test": int(test_idx.size), "n_fit": int(idx["fit"].size),
               "n_val": int(idx["val"].size), "noise_floor": noise_floor, "noise_floor_se": noise_floor_se,
               "truth_known": truth_known, "homoscedastic": homo, "lr_regimes": lr_regimes, "lr_sweep": lr_sweep,
               "architectures": arch, "heteroscedastic": hetero,
               "settings": {k: config[k] for k in ("hidden", "lr", "steps", "nll_lr", "var_floor")}}
    order = np.argsort(x_test)
    curves = {"x_test": x_test[order], "y_test": y_test[order],
              "mse_mean": ev["mean_te"][order], "mse_sigma": np.full(order.size, homo["sigma"]),
              "nll_mean": evh["mean_te"][order], "nll_sigma": np.sqrt(evh["var_te"][order]),
              "fit_loss": fits.curves["loss"][-1], "nll_loss": nll_fit.curves["loss"][0], "lr_tables": lr_tables,
              **{f"{name}_{k}": sweep_curves[k][i] for name, i in rows_of.items() for k in ("loss", "val")},
              "sweep_loss": sweep_curves["loss"], "sweep_val": sweep_curves["val"],
              # training split, unsorted, with both models' predictions (for checking the metrics)
              "x_train": x_all[train_idx], "y_train": y_train, "mse_mean_train": ev["mean_tr"],
              "nll_mean_train": evh["mean_tr"], "nll_var_train": evh["var_tr"],
              "x_fit": x_all[idx["fit"]], "y_fit": y_all[idx["fit"]], "x_val": x_all[idx["val"]],
              "y_val": y_all[idx["val"]], "lr_pred_fit": pred_fit, "lr_pred_val": pred_val,
              "selected_pred": groups[0]["pred"], "x_eval": x_all[eval_idx], "y_eval": y_all[eval_idx]}
    if truth_known:
        metrics["oracle"] = oracle(curves, x_all, ref_sq, ref_nll, idx)
    runio.save_curves(out / "curves.npz", **curves)
    plot(curves, metrics, out)
    for path in checkpoints(config, out):  # every fit is done: nothing left to resume
        path.unlink(missing_ok=True)
    return metrics


def oracle(curves: dict, x_all, ref_sq, ref_nll, idx: dict) -> dict:
    """The true model's numbers on the same points (adds its mean and sigma at the sorted test inputs to curves)."""
    x_sorted = curves["x_test"]
    curves.update(true_mean=data.x_y_mean(x_sorted), true_sigma=data.x_y_std(x_sorted))
    true_var = curves["true_sigma"] ** 2
    return {"test_nll": float(jax.jit(model.mean_nll)(curves["true_mean"], true_var, curves["y_test"])),
            **calibration(curves["true_mean"], true_var, curves["y_test"], x_sorted),
            "noise_var": float(np.mean(data.x_y_std(x_all[idx["train"]]) ** 2)),
            "train_mse": float(np.mean(ref_sq[idx["train"]])), "test_mse": float(np.mean(ref_sq[idx["test"]])),
            "val_mse": float(np.mean(ref_sq[idx["val"]])), "fit_mse": float(np.mean(ref_sq[idx["fit"]])),
            "train_nll": float(np.mean(ref_nll[idx["train"]]))}
