"""The sheet's statistics of implicit regularisation: per learning rate over the converged runs, the trend with
the learning rate (slope, correlation, paired test change), and the weight decay chosen on validation data."""

from __future__ import annotations

import math

import numpy as np

from nndl import stats
from nndl.sweep import Grid

MIN_CONVERGED = 0.5  # a learning rate enters the trend when at least this fraction of its runs converged
RUNS = ("data", "seed")  # the grid axes a learning rate's runs span


def slope(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares slope of y on x with its standard error (NaN with fewer than 3 points or no spread)."""
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 3 or np.ptp(x) == 0:
        return math.nan, math.nan
    xc = x - x.mean()
    b = float((xc * (y - y.mean())).sum() / (xc**2).sum())
    resid = y - y.mean() - b * xc
    return b, float(math.sqrt((resid**2).sum() / (len(x) - 2) / (xc**2).sum()))


def correlation(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Pearson r with its 95 % interval from Fisher's z (NaN with fewer than 4 points)."""
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 4 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan, math.nan, math.nan
    r = float(np.corrcoef(x, y)[0, 1])
    z, half = math.atanh(max(min(r, 0.999999), -0.999999)), 1.96 / math.sqrt(len(x) - 3)
    return r, math.tanh(z - half), math.tanh(z + half)


def learning_rates(imp: dict, grid: Grid, stop_loss: float, epochs: int) -> tuple[dict, list[int]]:
    """(b)/(c) per learning rate: converged fraction, exclusions, means ± s.e. over the converged runs, and the
    trend over the kept learning rates (converged runs only).

    Args:
      imp: per-config arrays of the implicit-only sweep (train, test, gsq, var, stop: NaN where diverged;
        converged, diverged: bool).
      grid: its grid, axes (lr, data, seed).
      stop_loss, epochs: the stop rule and the horizon (for the exclusion reasons).

    Returns:
      The metrics of this part, and the indices of the kept learning rates.
    """
    lrs = grid.axes["lr"].tolist()
    conv, diverged = grid.unflatten(imp["converged"]), grid.unflatten(imp["diverged"])  # (lr, data, seed)
    runs = conv[0].size
    frac = conv.mean(axis=(1, 2))
    kept = [i for i in range(len(lrs)) if frac[i] >= MIN_CONVERGED]
    excluded = [{"lr": lrs[i], "converged": int(conv[i].sum()), "runs": runs, "diverged": int(diverged[i].sum()),
                 "reason": ("diverged" if diverged[i].any() and not conv[i].any() else
                            f"{int(conv[i].sum())} of {runs} runs reached MSE {stop_loss:g} within {epochs} epochs")}
                for i in range(len(lrs)) if i not in kept]

    def conv_stat(values):  # mean ± s.e. over the converged runs of each lr
        return grid.mean_se(np.where(imp["converged"], values, np.nan), over=RUNS)

    gsq_m, gsq_se = conv_stat(imp["gsq"])
    var_m, var_se = conv_stat(imp["var"])
    test_m, test_se = conv_stat(imp["test"])
    train_m, _ = conv_stat(imp["train"])
    ep_m, ep_se = conv_stat(imp["stop"])
    term_m, term_se = conv_stat(grid.flat()["lr"] / 4 * (imp["gsq"] + imp["var"]))

    # trend over the kept lrs, converged runs only: log var = a + b log lr
    lr_runs = np.asarray(grid.flat()["lr"], float)
    mask = imp["converged"] & np.isin(lr_runs, [lrs[i] for i in kept])

    def sel(v):
        return np.where(mask, v, np.nan)

    with np.errstate(divide="ignore", invalid="ignore"):
        var_slope = slope(np.log(sel(lr_runs)), np.log(sel(imp["var"])))
        gsq_slope = slope(np.log(sel(lr_runs)), np.log(sel(imp["gsq"])))
        corr_var = correlation(np.log(sel(imp["var"])), sel(imp["test"]))
    test = grid.unflatten(sel(imp["test"]))
    end = stats.compare_paired(test[kept[0]], test[kept[-1]]) if len(kept) >= 2 else None
    return {
        "final_train_loss": train_m, "test_loss": test_m, "test_loss_se": test_se,
        "grad_norm_sq": gsq_m, "grad_norm_sq_se": gsq_se,
        "minibatch_grad_var": var_m, "minibatch_grad_var_se": var_se,
        "implicit_regulariser": term_m, "implicit_regulariser_se": term_se,
        "converged_fraction": frac, "epochs_to_converge": ep_m, "epochs_to_converge_se": ep_se,
        "kept_lrs": [lrs[i] for i in kept], "excluded_lrs": excluded,
        "trend": {"var_slope": var_slope[0], "var_slope_se": var_slope[1], "gsq_slope": gsq_slope[0],
                  "gsq_slope_se": gsq_slope[1], "corr_log_var_test": corr_var[0],
                  "corr_low": corr_var[1], "corr_high": corr_var[2],
                  "test_change": None if end is None else {"from_lr": lrs[kept[0]], "to_lr": lrs[kept[-1]],
                                                           "difference": end.difference,
                                                           "difference_se": end.difference_se,
                                                           "verdict": end.verdict}},
        "diverged_lrs": [lr for i, lr in enumerate(lrs) if diverged[i].any()],
        "diverged_runs": diverged.sum(axis=(1, 2)).tolist(),  # per lr: runs whose loss went non-finite
    }, kept


def weight_decay_summary(reg: dict, grid: Grid, imp: dict, imp_grid: Grid, kept: list[int]) -> dict:
    """(d): (lr, weight decay) chosen by mean validation MSE; its test MSE reported once, compared (paired by
    seed and data draw) with the implicit-only lr chosen the same way among the converged lrs.

    Args:
      reg: per-config val, test, train MSE of the weight-decay sweep (NaN where diverged).
      grid: its grid, axes (weight_decay, lr, data, seed).
      imp: per-config val, test MSE and converged of the implicit-only sweep.
      imp_grid: its grid, axes (lr, data, seed) with the same lr, data and seed values.
      kept: indices of the learning rates whose implicit-only runs converged often enough.
    """
    wds, lrs = grid.axes["weight_decay"].tolist(), grid.axes["lr"].tolist()
    val_m, val_se = grid.mean_se(reg["val"], over=RUNS)      # (weight_decay, lr)
    test_m, test_se = grid.mean_se(reg["test"], over=RUNS)
    test, train = grid.unflatten(reg["test"]), grid.unflatten(reg["train"])
    rows = [{"lr": lr, "weight_decay": wd, "val_loss": float(val_m[a, b]), "val_loss_se": float(val_se[a, b]),
             "train_loss": float(np.nanmean(train[a, b])) if np.isfinite(train[a, b]).any() else None,
             "test_loss": float(test_m[a, b]), "test_loss_se": float(test_se[a, b])}
            for a, wd in enumerate(wds) for b, lr in enumerate(lrs)]
    if not np.isfinite(val_m).any():
        return {"grid": rows, "weight_decays": wds, "best": None, "best_implicit": None, "interior": None,
                "edge": None, "comparison": None, "best_implicit_test_loss": None, "beats_implicit": False}
    best = dict(rows[int(np.nanargmin(val_m))])  # rows are in the (weight_decay, lr) order of val_m
    a, b = wds.index(best["weight_decay"]), lrs.index(best["lr"])
    conv = imp_grid.unflatten(imp["converged"]).astype(bool)
    imp_val, imp_test = imp_grid.unflatten(imp["val"]), imp_grid.unflatten(imp["test"])
    imp_val_m = np.array([np.nanmean(np.where(conv[i], imp_val[i], np.nan)) if i in kept else np.nan
                          for i in range(len(lrs))])
    best_implicit = None
    comparison = None
    if np.isfinite(imp_val_m).any():
        i = int(np.nanargmin(imp_val_m))
        m, se = stats.mean_se(np.where(conv[i], imp_test[i], np.nan))
        best_implicit = {"lr": lrs[i], "val_loss": float(imp_val_m[i]), "test_loss": float(m),
                         "test_loss_se": float(se)}
        c = stats.compare_paired(np.where(conv[i], imp_test[i], np.nan), test[a, b])
        comparison = {"difference": c.difference, "difference_se": c.difference_se, "z": c.z,
                      "verdict": c.verdict}
    return {"grid": rows, "weight_decays": wds, "best": best, "best_implicit": best_implicit,
            "interior": bool(0 < a < len(wds) - 1), "edge": None if 0 < a < len(wds) - 1 else
            ("smallest" if a == 0 else "largest"), "comparison": comparison,
            # kept for old readers: the best implicit-only test MSE and whether weight decay beat it
            "best_implicit_test_loss": None if best_implicit is None else best_implicit["test_loss"],
            "beats_implicit": bool(comparison is not None and comparison["verdict"] == "lower")}
