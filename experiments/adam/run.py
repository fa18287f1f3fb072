"""adam: config -> the first-step computations and two engine sweeps -> metrics.json, curves.npz, figures."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np

from experiments.adam import decay, linear, training
from experiments.adam.config import OPTIMISERS, TASKS, VARIANTS
from experiments.adam.first_step import effective_steps, first_step_ratios
from experiments.adam.plots import plot
from nndl.run import cli, progress, runio
from nndl.sweep import Grid, Sweep, Task
from nndl.sweep.engine import BucketResult


def chunk_epochs(n_epochs: int, target: int = 250) -> int:
    """Epochs per engine chunk: about `target`, splitting n_epochs evenly (no padded epochs at the end)."""
    return -(-n_epochs // -(-n_epochs // target))


SWEEPS = ("AdamW vs L2", "SGD vs Adam")  # the engine runs, in order; each keeps its checkpoint until run() ends


def checkpoint_path(out: Path, desc: str) -> Path:
    return out / f"checkpoint_{desc.replace(' ', '_')}.npz"


def sweep(task: Task, metric_names, hp: dict[str, np.ndarray], data: dict, out: Path, desc: str,
          n_record: int) -> tuple[dict[str, np.ndarray], BucketResult, Sweep]:
    """Trains every config of `hp` (one 1-D array per key, seed and epochs included) in one engine run.

    The checkpoint is kept when the sweep finishes: a run interrupted in a later sweep resumes this one
    from its last chunk instead of redoing it (`run` removes every checkpoint at its end).

    Returns:
      ({metric: (n_configs, n_record) curves}, the engine's result, the sweep). A diverged config
      (rolled back and frozen by the engine) reads NaN from its diverged epoch on; `result.track.diverged`
      flags it.
    """
    n_epochs = int(np.max(hp["epochs"]))
    engine = Sweep([task], metric_names, n_epochs, chunk_epochs=chunk_epochs(n_epochs), n_record=n_record)
    result, = engine.run([hp], data, checkpoint=checkpoint_path(out, desc), keep_checkpoint=True, desc=desc,
                         progress=progress.bar)
    track = result.track
    lost = track.diverged[:, None] & (engine.record[None, :] > track.diverged_epoch[:, None])
    curves = {name: np.where(lost, np.nan, track.curves[:, :, c]) for c, name in enumerate(metric_names)}
    return curves, result, engine


# --------------------------------------------------------- AdamW vs L2
def best_lambda(lambdas: np.ndarray, test_loss: list[float]) -> dict:
    """The lambda of the lowest test MSE among the runs that did not diverge (None where every one did)."""
    loss = np.asarray(test_loss, np.float64)
    if not np.isfinite(loss).any():
        return {"lambda": None, "test_loss": None}
    i = int(np.nanargmin(loss))
    return {"lambda": float(lambdas[i]), "test_loss": float(loss[i])}


def adamw_vs_l2(config: dict, out: Path) -> tuple[dict, dict]:
    """The (method, lambda) grid plus a no-decay run, trained full batch for decay_steps; the per-weight decay
    of L2 and AdamW measured at probe_lambda."""
    spec = decay.decay_spec(config)
    x_tr, y_tr, x_te, y_te = decay.decay_data(config)
    lambdas = np.asarray(config["lambdas"], np.float64)
    grid = Grid(decoupled=[0.0, 1.0], lam=lambdas)  # L2 in the loss, then AdamW
    flat = grid.flat()
    n = 1 + grid.size  # config 0: no decay
    hp = {"seed": np.full(n, config["seed"], np.int32), "epochs": np.full(n, config["decay_steps"], np.int32),
          "lr": np.full(n, config["decay_lr"], np.float32),
          "lam": np.concatenate([[0.0], flat["lam"]]).astype(np.float32),
          "decoupled": np.concatenate([[0.0], flat["decoupled"]]).astype(np.float32)}
    data = {"x_train": x_tr, "y_train": y_tr, "x_test": x_te, "y_test": y_te}
    curves, result, _ = sweep(training.decay_task(spec), training.DECAY_METRICS, hp, data, out, SWEEPS[0],
                              n_record=2)
    ev = {name: np.asarray(v[:, -1], np.float64) for name, v in curves.items()}  # the last record: decay_steps
    per = {name: grid.unflatten(v[1:]) for name, v in ev.items()}  # (decoupled, lambda)
    probe = 1 + np.array([grid.index(decoupled=d, lam=config["probe_lambda"]) for d in (0.0, 1.0)])
    probed = jax.tree.map(lambda a: a[probe], result.state)
    multiplier = jax.jit(jax.vmap(lambda s, h: decay.decay_multiplier(spec, s, h, x_tr, y_tr)))
    multipliers = np.array(multiplier(probed, {k: v[probe] for k, v in hp.items()}))  # a writable copy
    multipliers[result.track.diverged[probe]] = np.nan
    per_feature = np.median(np.asarray(multipliers, np.float64), axis=2)  # (2 methods, d_in)
    l2, aw = ({name: per[name][d].tolist() for name in per} for d in (0, 1))
    diverged = grid.unflatten(result.track.diverged[1:])  # (decoupled, lambda)
    metrics = {
        "lambdas": lambdas.tolist(), "lr": config["decay_lr"], "steps": config["decay_steps"],
        "no_decay": {name: float(ev[name][0]) for name in ev}, "l2": l2, "adamw": aw,
        "best": {m: best_lambda(lambdas, b["test_loss"]) for m, b in (("l2", l2), ("adamw", aw))},
        "diverged": {"no_decay": bool(result.track.diverged[0]), "l2": diverged[0].tolist(),
                     "adamw": diverged[1].tolist()},
        "probe_lambda": config["probe_lambda"], "feature_scales": decay.feature_scales(config).tolist(),
        "decay_multiplier": {"l2": per_feature[0].tolist(), "adamw": per_feature[1].tolist()},
        "l2_multiplier_spread": float(per_feature[0].max() / per_feature[0].min()),
        "adamw_multiplier_spread": float(per_feature[1].max() / per_feature[1].min()),
    }
    return metrics, {"multipliers": multipliers}


# --------------------------------------------------------- SGD vs Adam
def sgd_vs_adam(config: dict, out: Path) -> tuple[dict, dict]:
    """SGD and nndl's Adam on every task, minibatch training for `epochs`, against each task's exact optimum."""
    splits = linear.task_splits(config)
    data = linear.stacked(splits)
    grid = Grid(task=TASKS, optimiser=OPTIMISERS)
    flat = grid.flat()
    task = np.array([TASKS.index(t) for t in flat["task"]], np.int32)
    adam = flat["optimiser"] == "adam"
    hp = {"seed": linear.shuffle_seeds(config["seed"])[task], "epochs": np.full(grid.size, config["epochs"], np.int32),
          "task": task, "logistic": flat["task"] == "classification", "adam": adam,
          "lr": np.where(adam, config["adam_lr"], config["sgd_lr"]).astype(np.float32)}
    spec = training.LinearSpec(d_in=data["x_train"].shape[-1], batch_size=config["batch_size"])
    curves, result, _ = sweep(training.linear_task(spec), training.LINEAR_METRICS, hp, data, out, SWEEPS[1],
                              n_record=config["epochs"])
    runs = {name: grid.unflatten(v) for name, v in curves.items()}  # (task, optimiser, epoch)
    lost = result.track.diverged
    w = grid.unflatten(np.where(lost[:, None], np.nan, result.state.params["w"]))  # (task, optimiser, d_in)
    b = grid.unflatten(np.where(lost, np.nan, result.state.params["b"]))
    metrics, task_curves = {}, {}
    for ti, name in enumerate(TASKS):
        x_tr, y_tr, x_te, y_te = splits[name]
        opt = linear.optimum(name, x_tr, y_tr)
        best = linear.mean_loss_np(name, x_tr, y_tr, opt["w"], opt["b"])
        block = {"n_train": int(x_tr.shape[0]), "n_test": int(x_te.shape[0]),
                 "optimum": {"train_loss": best, "test_loss": linear.mean_loss_np(name, x_te, y_te, opt["w"], opt["b"]),
                             "w": opt["w"].tolist(), "b": float(opt["b"])}}
        for oi, o in enumerate(OPTIMISERS):
            train, test = runs["train"][ti, oi], runs["test"][ti, oi]
            row = {"train_loss": float(train[-1]), "test_loss": float(test[-1]),
                   "epochs_to_tolerance": linear.epochs_to_tolerance(train, best, config["tolerance"]),
                   "epochs_to_stay": linear.epochs_to_stay(train, best, config["tolerance"]),
                   "final_gap": float(train[-1] / best - 1), "diverged": bool(lost[grid.index(task=name, optimiser=o)]),
                   "w": w[ti, oi, :x_tr.shape[1]].tolist(), "b": float(b[ti, oi])}
            if name == "classification":
                row.update(train_accuracy=float(runs["train_acc"][ti, oi, -1]),
                           test_accuracy=float(runs["test_acc"][ti, oi, -1]))
            block[o] = row
            task_curves[f"{name}_{o}_train"], task_curves[f"{name}_{o}_test"] = train, test
        metrics[name] = block
    metrics.update(tolerance=config["tolerance"], epochs=config["epochs"], batch_size=config["batch_size"],
                   sgd_lr=config["sgd_lr"], adam_lr=config["adam_lr"])
    return metrics, task_curves


# ------------------------------------------------------------------ the run
def diverged_configs(decay_metrics: dict, table: dict) -> list[str]:
    """The diverged configs of both sweeps, named ("AdamW lambda 0.1", "SGD one_var")."""
    d = decay_metrics["diverged"]
    names = ["no decay"] if d["no_decay"] else []
    names += [f"{label} lambda {lam:g}" for m, label in (("l2", "L2"), ("adamw", "AdamW"))
              for lam, bad in zip(decay_metrics["lambdas"], d[m]) if bad]
    return names + [f"{o.replace('sgd', 'SGD').replace('adam', 'Adam')} {task}" for task in TASKS for o in OPTIMISERS
                    if table[task][o]["diverged"]]


def run(config: dict, out: Path) -> dict:
    key = jax.random.key(config["seed"])
    grad_key = jax.random.fold_in(key, 0)  # fold_in 1: the decay study's init; minibatch orders: shuffle_seeds
    lr, b1, b2, eps = (config[k] for k in ("lr", "b1", "b2", "eps"))
    g = jax.jit(lambda k: config["grad_scale"] * jax.random.normal(k, (config["dim"],)))(grad_key)
    eps_all = np.array([eps, *config["eps_sweep"]], np.float32)
    ratios = {k: np.asarray(v, np.float64) for k, v in first_step_ratios(g, lr, b1, b2, eps_all).items()}
    first = {**{k: float(v[0]) for k, v in ratios.items()}, "ratio_uncorrected_theory": (1 - b1) / np.sqrt(1 - b2),
             "lr": lr, "eps": eps, "dim": config["dim"],
             "eps_sweep": [{"eps": e, **{k: float(v[i + 1]) for k, v in ratios.items()}}
                           for i, e in enumerate(config["eps_sweep"])]}
    long = effective_steps(g, config)
    n = config["effective_steps"]
    unc = long["uncorrected"]
    effective = {"steps": n, "warmup_steps": config["warmup_steps"],
                 **{v: long[v][:n].tolist() for v in VARIANTS},
                 "uncorrected_peak": float(unc.max()), "uncorrected_peak_step": int(unc.argmax()) + 1,
                 "uncorrected_last": float(unc[-1]), "long_steps": config["long_steps"]}
    decay_metrics, decay_curves = adamw_vs_l2(config, out)
    table, task_curves = sgd_vs_adam(config, out)
    named = diverged_configs(decay_metrics, table)
    n_configs = 1 + 2 * len(config["lambdas"]) + len(TASKS) * len(OPTIMISERS)
    cli.warn_diverged("adam", len(named), n_configs, f" ({', '.join(named)})" if named else "")
    metrics = {"first_step": first, "effective_step": effective, "adamw_vs_l2": decay_metrics, "sgd_vs_adam": table,
               "settings": {k: config[k] for k in ("b1", "b2", "grad_scale", "n_features")}}
    runio.save_curves(out / "curves.npz", gradient=np.asarray(g), **{f"effective_{k}": v for k, v in long.items()},
                      **decay_curves, **task_curves)
    plot(metrics, long, task_curves, out)
    for desc in SWEEPS:  # every sweep is done: nothing left to resume
        checkpoint_path(out, desc).unlink(missing_ok=True)
    return metrics
