"""Seed 004 Q3: the L2-regularised linear-regression grid trained by minibatch SGD in one sweep, selected on a
validation split, against the closed-form ridge path, and timed against a Python loop of standalone runs."""

from __future__ import annotations

import time
from pathlib import Path

import jax
import numpy as np

from experiments.linear_models import worked_answer
from experiments.linear_models.config import AXES, CONFIG_AXES
from nndl import sweep
from nndl.models import linear
from nndl.numerics import lstsq
from nndl.run import progress
from nndl.train import ridge as ridge_sweep


def grid_of(config: dict) -> sweep.Grid:
    """batch size x learning rate x epochs x alpha (the first varies slowest)."""
    return sweep.Grid(**{k: config[ck] for k, ck in zip(AXES, CONFIG_AXES)})


def train_grid(config: dict, arrays: dict, out: Path) -> tuple[sweep.Grid, ridge_sweep.RidgeSweepResult, float]:
    """Every config of the grid in one sweep (the engine shards the configs over all devices and compiles one
    program per chunk length); returns the grid, the per-config results in flat grid order and the wall time."""
    grid = grid_of(config)
    start = time.perf_counter()
    result = ridge_sweep.run_ridge_sweep(grid.flat(), arrays, shuffle_seed=config["seed"],
                                         chunk_epochs=config["chunk_epochs"], n_record=config["n_record"],
                                         checkpoint=out / "checkpoint.npz", desc="linear_models grid",
                                         progress=progress.bar)
    return grid, result, time.perf_counter() - start


def select(val_mse: np.ndarray, diverged: np.ndarray) -> int | None:
    """Index of the lowest validation MSE among configs that neither diverged nor ended non-finite (None: every
    config did)."""
    ok = ~diverged & np.isfinite(val_mse)
    if not ok.any():
        return None
    return int(np.flatnonzero(ok)[np.argmin(val_mse[ok])])


def axis_positions(grid: sweep.Grid, best: int, val_mse: np.ndarray, diverged: np.ndarray, w: np.ndarray,
                   b: np.ndarray, x_val: np.ndarray, y_val: np.ndarray) -> dict:
    """Where the chosen config sits on each grid axis, and how it compares with its neighbours there.

    A neighbour's difference in validation MSE is paired over the same validation examples:
    d_i = r_neighbour,i^2 - r_best,i^2, its mean and standard error std(d)/sqrt(n_val).
    """
    at = tuple(int(i) for i in np.unravel_index(best, grid.shape))
    x64, y64 = np.asarray(x_val, np.float64), np.asarray(y_val, np.float64)

    def sq_residuals(i):
        return (x64 @ np.asarray(w[i], np.float64) + float(b[i]) - y64) ** 2

    base = sq_residuals(best)
    out = {}
    for axis, name in enumerate(grid.names):
        values, i = grid.axes[name].tolist(), at[axis]
        # flat indices of the configs along this axis through the chosen one
        index = [int(np.ravel_multi_index(at[:axis] + (j,) + at[axis + 1:], grid.shape)) for j in range(len(values))]
        line = [None if diverged[k] else float(val_mse[k]) for k in index]
        side = {}
        for label, j in (("lower", i - 1), ("upper", i + 1)):
            if not 0 <= j < len(values) or diverged[index[j]]:
                side[label] = None
                continue
            d = sq_residuals(index[j]) - base
            mean, se = float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d)))
            side[label] = {"value": values[j], "val_mse": line[j], "diff": mean, "diff_se": se,
                           "z": mean / se if se > 0 else None}
        where = "interior" if 0 < i < len(values) - 1 else ("lowest" if i == 0 else "highest")
        out[name] = {"values": values, "index": i, "n": len(values), "value": values[i], "where": where,
                     "at_natural_bound": name == "alpha" and values[i] == 0.0, "line": line, **side}
    return out


def steady_one_call_s(timings: dict) -> tuple[float, float | None]:
    """(seconds of the one-call sweep without compiling, compile seconds): the first chunk, which compiles,
    is counted at the median time of the later chunks (all chunks do the same work). With a single chunk
    compiling cannot be told apart: (its whole time, None)."""
    chunks = np.asarray(timings["chunk_s"])
    if len(chunks) < 2:
        return float(chunks.sum()), None
    steady = float(np.median(chunks[1:]))
    return steady * len(chunks), float(chunks[0] - steady + timings["init_s"])


def time_loop(config: dict, flat: dict[str, np.ndarray], arrays: dict) -> dict:
    """The same configs as standalone jitted runs in a Python loop (after one warm-up run per batch size).

    With loop_per_cell = k > 0 only k random configs of each (batch size, epochs) cell are timed: a run's
    cost depends on those two alone, so the cell's mean time x its size extrapolates the whole loop.
    """
    n, d = arrays["x_train"].shape
    fit = jax.device_put({k: arrays[k] for k in ("x_train", "y_train", "x_val", "y_val")})
    rng = np.random.default_rng(config["seed"])
    per_cell = config["loop_per_cell"]

    def hp(i):
        return {"seed": np.int32(config["seed"]), "epochs": np.int32(flat["epochs"][i]),
                "lr": np.float32(flat["lr"][i]), "alpha": np.float32(flat["alpha"][i])}

    def spec(i):
        return ridge_sweep.RidgeSpec(n_train=n, d=d, batch_size=int(flat["batch_size"][i]),
                                     shuffle_seed=int(config["seed"]))

    for b in config["batch_sizes"]:  # warm-up: compile each batch size's program once
        first = int(np.flatnonzero(flat["batch_size"] == b)[0])
        jax.block_until_ready(ridge_sweep.run_standalone(spec(first), hp(first), fit))
    cells = [np.flatnonzero((flat["batch_size"] == b) & (flat["epochs"] == e))
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
            "extrapolated": per_cell != 0 and sum(len(t) for t in timed) < len(flat["lr"])}


def run_grid_search(config: dict, arrays: dict, transform: dict, source: str, out: Path) -> tuple[dict, dict]:
    grid, result, wall = train_grid(config, arrays, out)
    flat = grid.flat()
    one_call, compile_s = steady_one_call_s(result.timings)
    val_mse = result.final["val_mse"]
    best = select(val_mse, result.diverged)
    curves = {"grid_val_mse": val_mse, "grid_train_mse": result.final["train_mse"], "grid_diverged": result.diverged,
              "grid_record_epochs": result.record_epochs, "grid_val_curves": result.curves["val_mse"],
              **{f"grid_{k}": flat[k] for k in AXES}}
    if best is None:  # nothing to choose, time or compare: the grid is reported as diverged
        # every config counts: flagged by the engine, or ended with a non-finite validation MSE
        return {"diverged": True, "data": source, "n_configs": len(val_mse), "n_diverged": len(val_mse),
                "axes": {k: config[ck] for k, ck in zip(AXES, CONFIG_AXES)}, "lr": config["lrs"]}, curves
    chosen = {"w": result.w[best], "b": result.b[best]}
    chosen_values = grid.coords(best)
    alpha_index = int(np.unravel_index(best, grid.shape)[grid.axis("alpha")])
    # closed-form ridge for every alpha of the grid: the same alpha as the chosen SGD config, and the best
    ridge_path = lstsq.ridge(arrays["x_train"], arrays["y_train"], config["alphas"])
    ridge_val = [linear.numpy_mse(r, arrays["x_val"], arrays["y_val"]) for r in ridge_path]
    ridge = ridge_path[alpha_index]
    ridge_best = int(np.argmin(ridge_val))
    loop = time_loop(config, flat, arrays)
    # a diverged config is rolled back to its last finite state by the engine, while its standalone run
    # goes on to inf/NaN: compare the others, and check that those blew up standalone too
    timed = loop["val_mse"]
    standalone_err = max((abs(v - val_mse[i]) / val_mse[i] for i, v in timed.items() if not result.diverged[i]),
                         default=0.0)
    diverged_too = all(not np.isfinite(v) for i, v in timed.items() if result.diverged[i])
    metrics = {
        "diverged": False, "data": source,
        "position": axis_positions(grid, best, val_mse, result.diverged, result.w, result.b, arrays["x_val"],
                                   arrays["y_val"]),
        "worked_answer": worked_answer.bug(arrays, chosen_values["alpha"]),
        "n_train": len(arrays["x_train"]), "n_val": len(arrays["x_val"]), "n_test": len(arrays["x_test"]),
        "n_features": int(arrays["x_train"].shape[1]),
        "axes": {k: config[ck] for k, ck in zip(AXES, CONFIG_AXES)},
        "n_configs": len(val_mse),
        "n_diverged": int(result.diverged.sum()),
        "best": chosen_values | {"index": best},
        "val_mse": float(val_mse[best]),
        "train_mse": float(result.final["train_mse"][best]),
        "test_mse_unregularised": linear.numpy_mse(chosen, arrays["x_test"], arrays["y_test"]),
        "test_target_variance": float(np.var(arrays["y_test"])),
        "ridge_alpha": chosen_values["alpha"],
        "ridge_val_mse": ridge_val[alpha_index],
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
    curves.update(best_w=chosen["w"], best_b=chosen["b"], ridge_w=ridge["w"], ridge_b=ridge["b"],
                  x_mean=transform["x_mean"], x_scale=transform["x_scale"], y_mean=transform["y_mean"])
    return metrics, curves
