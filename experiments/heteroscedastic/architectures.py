"""(d) architecture exploration: depth x activation x width x weight decay x seed through `nndl.train.run_mlp_sweep`,
grouped over seeds and ranked on validation."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from experiments.heteroscedastic.diagnostics import mean_or_nan
from experiments.heteroscedastic.training import chunk_steps
from nndl import sweep
from nndl import train as nn_train
from nndl.models import padded_mlp
from nndl.run import progress


def checkpoint_path(stem, depth: int, activation: str) -> str:
    """The engine checkpoint of one (depth, activation) call, from the stem given to `explore_architectures`."""
    return f"{stem}_{depth}_{activation}.npz"


def explore_architectures(config: dict, x_fit, y_fit, x_val, y_val, x_eval, *, checkpoint=None) -> list[dict]:
    """(d) depth x activation x width x weight decay x seed, full-batch Adam at the rate of (c).

    One `nndl.train.run_mlp_sweep` call per (depth, activation) (both are static shapes/functions there);
    `Grid(width, weight_decay, seed)` is one vmapped grid inside each call and maps its results back.

    Args:
      config: the run's config (arch_* keys, lr, steps).
      x_fit, y_fit: the training part of the training set, (n, 1); x_val, y_val: the validation part.
      x_eval: (m, 1) inputs at which every config's predictions are returned (fit, validation, test).
      checkpoint: a path stem for the engine's resumable checkpoints (one file per call, `checkpoint_path`;
        kept when the call finishes, for the caller to remove once the whole run has finished), or None.

    Returns:
      One dict per (depth, activation, width, weight_decay): per seed, train_mse and val_mse (the engine's
      final losses), diverged, and pred (seeds, m), the predictions at x_eval.
    """
    grid = sweep.Grid(width=config["arch_widths"], weight_decay=config["arch_weight_decays"],
                      seed=list(range(config["arch_seeds"])))
    flat = grid.flat()
    flat.update(epochs=np.full(grid.size, config["steps"]), lr=np.full(grid.size, config["lr"]))
    groups = []
    for depth in config["arch_depths"]:
        for activation in config["arch_activations"]:
            path = None if checkpoint is None else checkpoint_path(checkpoint, depth, activation)
            res = nn_train.run_mlp_sweep(flat, {"x_train": x_fit, "y_train": y_fit, "x_test": x_val, "y_test": y_val},
                                         depth=depth, activation=activation, n_buckets=1, n_record=2,
                                         chunk_epochs=chunk_steps(config["steps"]), checkpoint=path,
                                         keep_checkpoint=True,
                                         desc=f"(d) depth {depth} {activation}", progress=progress.bar)
            preds = np.zeros((grid.size, x_eval.shape[0]), np.float32)
            for b, (spec, state) in enumerate(zip(res.specs, res.states)):
                members = np.flatnonzero(res.location[:, 0] == b)
                order = res.location[members, 1]
                fn = jax.jit(jax.vmap(lambda p, w, spec=spec: nn_train.predict(spec, p, x_eval, w)[:, 0]))
                preds[members] = np.asarray(fn(state.params, jnp.asarray(res.grid["width"][members])))[order]
            per_seed = {"train_mse": res.final["train_loss"], "val_mse": res.final["test_loss"],
                        "diverged": res.diverged, "pred": preds}
            cube = {k: grid.unflatten(v) for k, v in per_seed.items()}  # (widths, weight decays, seeds, ...)
            for i, width in enumerate(grid.axes["width"]):
                for j, decay in enumerate(grid.axes["weight_decay"]):
                    groups.append({"depth": depth, "activation": activation, "width": int(width),
                                   "weight_decay": float(decay), **{k: v[i, j] for k, v in cube.items()}})
    return groups


def select_architecture(groups: list[dict]) -> list[dict]:
    """Each configuration's mean train/validation MSE over seeds, ascending validation MSE.

    A configuration with a diverged seed has no MSE (NaN): a diverged fit is never averaged away or
    scored by its last finite parameters, and it sorts last.
    """
    out = []
    for g in groups:
        diverged = bool(np.any(g["diverged"]))
        pred = np.where(np.asarray(g["diverged"])[:, None], np.nan, g["pred"])
        out.append({"depth": g["depth"], "activation": g["activation"], "width": g["width"],
                    "weight_decay": g["weight_decay"],
                    "params": padded_mlp.param_count(g["width"], d_in=1, d_out=1, depth=g["depth"]),
                    "train_mse": math.nan if diverged else mean_or_nan(g["train_mse"]),
                    "val_mse": math.nan if diverged else mean_or_nan(g["val_mse"]),
                    "diverged": diverged, "diverged_seeds": np.asarray(g["diverged"], bool), "pred": pred})
    return sorted(out, key=lambda g: (not math.isfinite(g["val_mse"]), g["val_mse"]))
