"""double_descent: config -> one sweep over (N, width, data draw, seed) -> metrics.json, curves.npz, figures."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from experiments.double_descent import NAME
from experiments.double_descent.interpolation import (
    CURVE_TOL,
    DEPTH,
    RUNS,
    budgets,
    convergence_summary,
    counting_width,
    n_params,
    peak_summary,
    pick_widths,
    settling,
    threshold,
)
from experiments.double_descent.plots import plot
from nndl import stats
from nndl.data import teacher
from nndl.run import cli, progress, runio
from nndl.sweep import Grid, derive_seeds
from nndl.train import run_mlp_sweep


def make_grid(config: dict, widths: list[int]) -> Grid:
    """Every (training-set size, width, data draw, init seed): the first axis varies slowest."""
    return Grid(n_train=[config["n_train"], config["n_train_large"]], width=widths, data=range(config["data_draws"]),
                seed=derive_seeds(config["seed"], config["seeds"]))


def sweep_configs(config: dict, grid: Grid) -> dict[str, np.ndarray]:
    """The grid's flat configs with the fixed hyperparameters: what the engine trains."""
    flat = grid.flat()
    n = grid.size
    flat.update(lr=np.full(n, config["lr"]), epochs=np.full(n, config["epochs"]))
    if config["batch_size"] is not None:
        flat["batch_size"] = np.minimum(config["batch_size"], flat["n_train"])
    return flat


def runs_of(grid: Grid, values: np.ndarray) -> np.ndarray:
    """Per-config values -> (size, width, run, ...): a cell's data draws x seeds on one axis (draw-major)."""
    cube = grid.unflatten(values)
    return cube.reshape(grid.shape[:2] + (-1,) + cube.shape[len(grid.shape):])


def epochs_to_tol(first: np.ndarray, widths: list[int], curve_widths: list[int]) -> dict:
    """(b): per curve width, the fraction of runs below CURVE_TOL and the epochs it took (mean ± s.e.)."""
    to_tol = {}
    for w in curve_widths:
        e = first[widths.index(w)]
        m, se = stats.mean_se(e)
        to_tol[str(w)] = {"fraction": float(np.isfinite(e).mean()), "mean": None if np.isnan(m) else float(m),
                          "se": None if np.isnan(se) else float(se),
                          "epochs": [None if np.isnan(v) else int(v) for v in e]}
    return to_tol


def more_data(widths: list[int], roles: list[tuple[int, str]], sizes: list[int], test: np.ndarray,
              test_m: np.ndarray, test_se: np.ndarray, train_m: np.ndarray) -> dict:
    """(d): N = sizes[0] against sizes[1] at the picked widths (paired by draw and seed), and over every width."""
    d_widths = [w for w, _ in roles]
    idx = [widths.index(w) for w in d_widths]
    comps = [stats.compare_paired(test[0, i], test[1, i]) for i in idx]
    all_comps = [stats.compare_paired(test[0, i], test[1, i]) for i in range(len(widths))]
    return {
        "widths": d_widths, "roles": [r for _, r in roles], "n_small": sizes[0], "n_large": sizes[1],
        "params": [n_params(w) for w in d_widths],
        "test_loss_n_small": [float(test_m[0, i]) for i in idx],
        "test_loss_n_small_se": [float(test_se[0, i]) for i in idx],
        "test_loss_n_large": [float(test_m[1, i]) for i in idx],
        "test_loss_n_large_se": [float(test_se[1, i]) for i in idx],
        "train_loss_n_small": [float(train_m[0, i]) for i in idx],
        "train_loss_n_large": [float(train_m[1, i]) for i in idx],
        "difference": [c.difference for c in comps], "difference_se": [c.difference_se for c in comps],
        "z": [c.z for c in comps], "verdict": [c.verdict for c in comps],
        "hurts": [c.verdict == "higher" for c in comps],
        "hurts_widths": [w for w, c in zip(widths, all_comps) if c.verdict == "higher"],
        "helps_widths": [w for w, c in zip(widths, all_comps) if c.verdict == "lower"],
    }


def run(config: dict, out: Path) -> dict:
    widths = sorted(set(config["widths"]))
    sizes = [config["n_train"], config["n_train_large"]]
    data = teacher.draws(config["seed"], config["data_draws"], max(sizes), config["n_test"], config["noise"])
    grid = make_grid(config, widths)
    start = time.perf_counter()
    res = run_mlp_sweep(sweep_configs(config, grid), data, depth=DEPTH, optimizer="adam",
                        n_buckets=config["n_buckets"], chunk_epochs=config["chunk_epochs"], tolerances=(CURVE_TOL,),
                        checkpoint=out / "checkpoint.npz", desc=f"{NAME} N={sizes[0]},{sizes[1]}",
                        progress=progress.bar)
    wall = time.perf_counter() - start
    runio.write_json(out / "sweep.json", [res.replay()])
    runs = config["seeds"] * config["data_draws"]

    bad = res.diverged.astype(bool)
    final_train = np.where(bad, np.nan, res.final["train_loss"])
    final_test = np.where(bad, np.nan, res.final["test_loss"])
    train_curves = np.where(bad[:, None], np.nan, res.curves["train_loss"])
    train_m, train_se = grid.mean_se(final_train, over=RUNS)
    test_m, test_se = grid.mean_se(final_test, over=RUNS)
    train_curve_m = grid.mean_se(train_curves, over=RUNS)[0]
    test_curve_m = grid.mean_se(np.where(bad[:, None], np.nan, res.curves["test_loss"]), over=RUNS)[0]
    test = runs_of(grid, final_test)
    epochs = res.record_epochs

    tol = config["interp_tol"]
    thr = [threshold(widths, train_m[s], tol) for s in range(2)]
    by_budget = [{str(e): threshold(widths, train_curve_m[s][:, list(epochs).index(e)], tol)
                  for e in budgets(epochs)} for s in range(2)]
    rel, settled, window = settling(epochs, res.curves["train_loss"], config["settle_tol"], CURVE_TOL)
    convergence = convergence_summary(grid, np.where(bad, np.nan, rel), settled, final_train, CURVE_TOL)

    first = np.where((res.first_below[:, 0] >= 0) & ~bad, res.first_below[:, 0] + 1.0, np.nan)  # epochs to reach
    curve_widths = [w for w in config["curve_widths"] if w in widths]
    to_tol = epochs_to_tol(runs_of(grid, first)[0], widths, curve_widths)  # N = n_train

    m_star = [counting_width(n * teacher.D_OUT) for n in sizes]
    metrics = {
        "R_t": teacher.optimal_test_mse(config["noise"]),
        "noise": config["noise"],
        "n_seeds": config["seeds"], "n_data_draws": config["data_draws"], "n_runs": runs,
        "epochs": config["epochs"], "lr": config["lr"],
        "widths": widths,
        "params": [n_params(w) for w in widths],
        "train_loss": train_m[0], "train_loss_se": train_se[0],
        "test_loss": test_m[0], "test_loss_se": test_se[0],
        "threshold_width": thr[0],
        "threshold_params": None if thr[0] is None else n_params(thr[0]),
        "counting_width": m_star[0],
        "interp_tol": tol,
        "threshold_by_budget": by_budget[0],
        **peak_summary(widths, test_m[0], test_se[0]),
        "test_loss_at_max_width": float(test_m[0, -1]), "test_loss_at_max_width_se": float(test_se[0, -1]),
        "constraints": sizes[0] * teacher.D_OUT,
        "n_large": {"n_train": sizes[1], "train_loss": train_m[1], "train_loss_se": train_se[1],
                    "test_loss": test_m[1], "test_loss_se": test_se[1], "threshold_width": thr[1],
                    "threshold_params": None if thr[1] is None else n_params(thr[1]),
                    "counting_width": m_star[1], "constraints": sizes[1] * teacher.D_OUT,
                    "threshold_by_budget": by_budget[1]},
        "convergence": {"window": [window, int(epochs[-1])], "settle_tol": config["settle_tol"],
                        "floor": CURVE_TOL, **convergence},
        "more_data_hurts": more_data(widths, pick_widths(widths, thr), sizes, test, test_m, test_se, train_m),
        "epochs_to_1e-3": {w: v["mean"] for w, v in to_tol.items()},
        "to_1e-3": to_tol,
        "diverged": int(res.diverged.sum()),
        "diverged_configs": [int(i) for i in np.flatnonzero(res.diverged)],
        "diverged_runs": runs_of(grid, bad).sum(axis=2).tolist(),  # per (N, width): runs whose loss went non-finite
        "sweep": {"n_configs": grid.size, "buckets": [[b[0], b[-1]] for b in res.buckets],
                  "padding_waste": res.padding_waste, "wall_s": wall, "flops_executed": res.flops_executed},
    }
    cli.warn_diverged(NAME, metrics["diverged"], grid.size, f" (lr {config['lr']:g})")
    curves = {"widths": widths, "sizes": sizes, "epochs": epochs, "train": train_curve_m[0], "test": test_curve_m[0],
              "train_large": train_curve_m[1], "test_large": test_curve_m[1], "final_train": train_m[0],
              "final_test": test_m[0], "train_runs": runs_of(grid, final_train), "test_runs": test,
              "train_curve_runs": runs_of(grid, train_curves).astype(np.float32)}
    runio.save_curves(out / "curves.npz", **curves)
    plot(metrics, curves, out)
    return metrics
