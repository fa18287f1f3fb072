"""implicit_reg: config -> an implicit-only and a weight-decay sweep -> metrics.json, curves.npz, figures."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from experiments.implicit_reg import NAME
from experiments.implicit_reg.measures import gradient_measures, held_out_mse
from experiments.implicit_reg.plots import plot
from experiments.implicit_reg.summary import learning_rates, weight_decay_summary
from nndl import train
from nndl.data import teacher
from nndl.models import padded_mlp
from nndl.run import cli, progress, runio
from nndl.sweep import Grid, derive_seeds

# Recorded evaluations (log-spaced epochs) per config. The implicit-only runs' curves are plotted; the
# weight-decay runs report only their final train/val/test MSE, so their curves (kept in curves.npz) are coarse:
# 100 evaluations of 144 configs on 2,000 test points cost ~6 s of that sweep's ~64 s (bench/NOTES.md, lever 24).
RECORDS = {"implicit": 100, "weight_decay": 10}


def make_data(config: dict) -> tuple[dict, dict]:
    """Training/test draws for the sweep and, per draw, a validation set from the same distribution."""
    data = teacher.draws(config["seed"], config["data_draws"], config["n_train"], config["n_test"], config["noise"])
    val = [teacher.sample(config["seed"] + 2_000_003, config["n_val"], config["noise"], draw=d)
           for d in range(config["data_draws"])]
    return data, {"x": np.stack([v[0] for v in val]), "y": np.stack([v[1] for v in val])}


def make_grid(config: dict, weight_decays: list[float] | None = None) -> Grid:
    """(weight decay,) learning rate, data draw, init seed: the first axis varies slowest. Without weight decays
    the runs are the implicit-only ones (weight decay 0)."""
    runs = {"lr": config["lrs"], "data": range(config["data_draws"]),
            "seed": derive_seeds(config["seed"], config["seeds"])}
    return Grid(**runs) if weight_decays is None else Grid(weight_decay=weight_decays, **runs)


def sweep_configs(config: dict, grid: Grid, epochs: int, stop: float) -> dict[str, np.ndarray]:
    """The grid's flat configs with the fixed hyperparameters: what the engine trains."""
    flat = grid.flat()
    n = grid.size
    flat.update(width=np.full(n, config["width"]), epochs=np.full(n, epochs),
                batch_size=np.full(n, config["batch_size"]), stop_loss=np.full(n, stop))
    return flat


def run_sweep(config: dict, configs: dict, data: dict, val: dict, out: Path, tag: str,
              slice_configs: int | None = None) -> dict:
    """One engine call; per config: final train/val/test MSE, gradient measures, stop epoch, divergence.
    `slice_configs`: the engine retires each slice of that many consecutive configs at its own stop."""
    res = train.run_mlp_sweep(configs, data, depth=config["depth"], optimizer="sgd", n_buckets=1,
                              chunk_epochs=config["chunk_epochs"], tolerances=(config["stop_loss"],),
                              n_record=RECORDS[tag], slice_configs=slice_configs,
                              checkpoint=out / f"checkpoint_{tag}.npz", keep_checkpoint=True, desc=f"{NAME} {tag}",
                              progress=progress.bar)
    gsq, var = gradient_measures(res, data, config["batch_size"])
    bad = res.diverged

    def nan(v):  # a diverged config reports nothing
        return np.where(bad, np.nan, v)

    return {"res": res, "train": nan(res.final["train_loss"]), "test": nan(res.final["test_loss"]),
            "val": nan(held_out_mse(res, val["x"], val["y"])), "gsq": nan(gsq), "var": nan(var),
            "converged": (res.stopped_epoch >= 0) & ~bad, "stop": np.where(res.stopped_epoch >= 0,
                                                                           res.stopped_epoch + 1.0, np.nan),
            "diverged": bad}


def run(config: dict, out: Path) -> dict:
    data, val = make_data(config)
    start = time.perf_counter()
    imp_grid = make_grid(config)
    # the grid's learning rate varies slowest: a slice of seeds x draws configs is one learning rate, and the
    # runs of one rate stop at about the same epoch (lr 0.16 after ~850 epochs, 0.02 after ~3,400), so each rate's
    # slice stops costing at its own stop instead of running until the slowest rate's (bench/NOTES.md, lever 31)
    imp = run_sweep(config, sweep_configs(config, imp_grid, config["epochs"], config["stop_loss"]), data, val, out,
                    "implicit", slice_configs=config["seeds"] * config["data_draws"])
    wd_grid = make_grid(config, sorted(set(config["weight_decays"])))
    reg = run_sweep(config, sweep_configs(config, wd_grid, config["wd_epochs"], 0.0), data, val, out, "weight_decay")
    wall = time.perf_counter() - start
    runio.write_json(out / "sweep.json", [imp["res"].replay(), reg["res"].replay()])
    for tag in ("implicit", "weight_decay"):
        (out / f"checkpoint_{tag}.npz").unlink(missing_ok=True)  # both sweeps done: nothing left to resume

    per_lr, kept = learning_rates(imp, imp_grid, config["stop_loss"], config["epochs"])
    metrics = {
        "lrs": config["lrs"], "width": config["width"], "depth": config["depth"], "batch_size": config["batch_size"],
        "n_train": config["n_train"], "n_val": config["n_val"],
        "n_params": padded_mlp.param_count(config["width"], d_in=teacher.D_IN, d_out=teacher.D_OUT,
                                           depth=config["depth"]), "stop_loss": config["stop_loss"],
        "epochs": config["epochs"], "n_seeds": config["seeds"], "n_data_draws": config["data_draws"],
        "n_runs": config["seeds"] * config["data_draws"],
        **per_lr,
        "n_batches": -(-config["n_train"] // config["batch_size"]),
        "diverged": int(imp["diverged"].sum() + reg["diverged"].sum()),
        "weight_decay": weight_decay_summary(reg, wd_grid, imp, imp_grid, kept),
        "sweep": {"n_configs": int(imp["train"].size + reg["train"].size), "wall_s": wall},
    }
    cli.warn_diverged(NAME, metrics["diverged"], metrics["sweep"]["n_configs"],
                      f" (lrs {', '.join(f'{lr:g}' for lr in metrics['diverged_lrs'])})"
                      if metrics["diverged_lrs"] else "")
    res = imp["res"]
    curves = {"epochs": res.record_epochs, "train": res.curves["train_loss"], "test": res.curves["test_loss"],
              "wd_epochs": reg["res"].record_epochs, "wd_train": reg["res"].curves["train_loss"],
              "wd_test": reg["res"].curves["test_loss"], "wd_lr": reg["res"].grid["lr"],
              "wd_weight_decay": reg["res"].grid["weight_decay"], "wd_val_loss": reg["val"],
              "wd_test_loss": reg["test"],
              # per implicit-only config
              "lr": res.grid["lr"], "data": res.grid["data"], "seed": res.grid["seed"], "grad_norm_sq": imp["gsq"],
              "minibatch_grad_var": imp["var"], "test_loss": imp["test"], "train_loss": imp["train"],
              "val_loss": imp["val"], "converged": imp["converged"]}
    runio.save_curves(out / "curves.npz", **curves)
    plot(metrics, curves, out)
    return metrics
