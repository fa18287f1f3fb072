"""Full-batch Adam fits of the sheet's two networks as ONE `nndl.sweep` task, and the learning-rate tables they read.

`make_task(spec)` trains either network (`Spec.head`): the MSE net of (c)/(d) or the
mean-and-variance net of (f). Everything that differs between configs is a traced
hyperparameter, so one compiled program trains a whole grid (and the engine adds
divergence rollback, checkpoint/resume, sharding and the progress bar):

  hp["key"]       the init key's data (uint32[2]): the run's own key, so a config starts where a
                  standalone fit with that key does (the engine's key(hp["seed"]) is not used)
  hp["lr_row"]    the row of data["lr"] (n_tables, steps) giving this config's rate at each step
  hp["fit_row"]   the row of data["fit_w"] (n_rows, n) weighting the points in its training loss
  hp["var_floor"] the smallest variance of the two-headed net

One epoch is one full-batch step. The state keeps the training and validation losses
measured before its last step, so the engine's curves, recorded after every epoch, are the
per-step curves "loss before step t".
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from experiments.heteroscedastic import model
from nndl import optim, sweep
from nndl.models import mlp
from nndl.run import progress

METRICS = ("loss", "val")
MAX_CHUNK = 500  # steps per jitted call at most (progress and checkpoint granularity)


class Spec(NamedTuple):
    """Static settings of a fit: layer sizes and the head ("mean": MSE of one output; "mean_var": Gaussian NLL)."""

    sizes: tuple[int, ...]
    head: str = "mean"


class FitState(NamedTuple):
    """A config's carry: parameters, Adam's state, and the losses before its last step (NaN before the first)."""

    params: Any
    opt_state: Any
    loss: jax.Array
    val: jax.Array


class Fits(NamedTuple):
    """Results of `train`, config axis first, in the order the configs were given."""

    params: Any                      # final (or, for a diverged config, last finite) parameters, stacked
    curves: dict[str, np.ndarray]    # "loss", "val": (configs, steps) before each step; NaN from a divergence on
    diverged: np.ndarray             # (configs,) bool: a step gave a non-finite loss or parameters
    diverged_step: np.ndarray        # (configs,) int, -1 if never


def point_losses(spec: Spec, params, x: jax.Array, y: jax.Array, var_floor) -> jax.Array:
    """Per-point training loss of the spec's head, (n,): squared error or Gaussian NLL."""
    if spec.head == "mean":
        return model.squared_errors(params, x, y)
    return model.gaussian_nlls(params, x, y, var_floor)


def weighted_mean(values: jax.Array, weights: jax.Array) -> jax.Array:
    """sum_i w_i v_i / sum_i w_i, and 0 when every weight is 0 (a fit without validation points)."""
    total = jnp.sum(weights)
    return jnp.where(total > 0, jnp.sum(weights * values) / jnp.where(total > 0, total, 1), 0)


def losses_of(params, spec: Spec, hp: dict, data: dict) -> tuple[jax.Array, jax.Array]:
    """(training loss, validation loss) of ONE config from one forward pass over every point."""
    per_point = point_losses(spec, params, data["x"], data["y"], hp["var_floor"])
    return weighted_mean(per_point, data["fit_w"][hp["fit_row"]]), weighted_mean(per_point, data["val_w"])


def init_state(spec: Spec, hp: dict, key: jax.Array) -> FitState:
    """A fresh MLP from the config's own init key (hp["key"]); `key` (the engine's) is not used."""
    del key
    params = mlp.init(jax.random.wrap_key_data(hp["key"]), spec.sizes)
    nan = jnp.full((), jnp.nan, jax.tree.leaves(params)[0].dtype)
    return FitState(params, optim.adam(0.0).init(params), nan, nan)  # Adam's state does not depend on the rate


def fit_epoch(spec: Spec, state: FitState, hp: dict, data: dict, e: jax.Array) -> tuple[FitState, jax.Array]:
    """One full-batch Adam step at the config's rate of step e; returns (state, training loss before the step)."""
    (loss, val), grads = jax.value_and_grad(losses_of, has_aux=True)(state.params, spec, hp, data)
    steps = data["lr"].shape[1]
    lr = data["lr"][hp["lr_row"], jnp.minimum(e, steps - 1)]  # epochs past the horizon are discarded by the engine
    updates, opt_state = optim.adam(lr).update(grads, state.opt_state, state.params)
    return FitState(optax.apply_updates(state.params, updates), opt_state, loss, val), loss


@functools.cache
def make_task(spec: Spec) -> sweep.Task:
    """The engine task of a fit with this static spec (one object per spec: compiled programs are reused)."""
    return sweep.Task(
        init=lambda hp, key: init_state(spec, hp, key),
        epoch=lambda state, hp, data, e: fit_epoch(spec, state, hp, data, e),
        evaluate=lambda state, hp, data: {"loss": state.loss, "val": state.val},
        name=f"experiments.heteroscedastic.training.{spec!r}",
        watch=lambda state: state.params,
    )


def chunk_steps(steps: int, most: int = MAX_CHUNK) -> int:
    """Steps per jitted call: the fewest chunks of at most `most` steps, as even as possible (little padding)."""
    n_chunks = -(-steps // most)
    return -(-steps // n_chunks)


def train(spec: Spec, data: dict, *, keys: jax.Array, lr_rows, fit_rows, var_floor: float = 0.0, desc: str = "fit",
          checkpoint=None, progress_bar=None) -> Fits:
    """Trains one config per entry of keys / lr_rows / fit_rows in ONE engine run of data["lr"].shape[1] steps.

    Args:
      spec: layer sizes and head.
      data: x, y (n, 1); lr (n_tables, steps) rate per step; fit_w (n_rows, n) training-loss weights;
        val_w (n,) weights of the validation loss (all 0: none).
      keys: (configs,) PRNG keys of the initial parameters.
      lr_rows, fit_rows: (configs,) rows of data["lr"] and data["fit_w"].
      var_floor: variance floor of the "mean_var" head.
      desc, checkpoint, progress_bar: the engine's progress label, resumable checkpoint (.npz path or None;
        kept when the fit finishes, for the caller to remove once the whole run has finished) and progress
        factory (None: silent).
    """
    lr_rows = np.asarray(lr_rows, np.int32)
    n, steps = lr_rows.size, int(np.shape(data["lr"])[1])
    hp = {"seed": np.zeros(n, np.int32), "epochs": np.full(n, steps, np.int32),
          "key": np.asarray(jax.random.key_data(keys), np.uint32), "lr_row": lr_rows,
          "fit_row": np.asarray(fit_rows, np.int32), "var_floor": np.full(n, var_floor, np.float32)}
    arrays = {k: np.asarray(data[k], np.float32) for k in ("x", "y", "lr", "fit_w", "val_w")}
    engine = sweep.Sweep([make_task(spec)], METRICS, steps, chunk_epochs=chunk_steps(steps), n_record=steps)
    (res,) = engine.run([hp], arrays, checkpoint=checkpoint, keep_checkpoint=True, desc=desc, progress=progress_bar)
    first_bad = np.where(res.track.diverged, res.track.diverged_epoch, steps)
    after = np.arange(steps)[None, :] >= first_bad[:, None]
    curves = {name: np.where(after, np.nan, res.track.curves[:, :, c]) for c, name in enumerate(METRICS)}
    return Fits(res.state.params, curves, np.asarray(res.track.diverged), np.asarray(res.track.diverged_epoch))


# ------------------------------------------------------------- learning rates
def warmup_cosine(config: dict, peak: float) -> optax.Schedule:
    """Linear ramp from end_lr to `peak` over warmup_fraction of the steps, then cosine down to end_lr."""
    return optax.warmup_cosine_decay_schedule(
        init_value=config["end_lr"], peak_value=peak, decay_steps=config["steps"], end_value=config["end_lr"],
        warmup_steps=max(1, int(config["warmup_fraction"] * config["steps"])))


def schedule_table(schedule: optax.Schedule, steps: int) -> np.ndarray:
    """The schedule's rate at steps 0 .. steps-1, float32 (steps,)."""
    return np.asarray(jax.jit(schedule)(np.arange(steps)), np.float32)


def sweep_lrs(config: dict) -> list[float]:
    """(d) the constant learning rates swept: the grid plus the rate of (c), ascending."""
    return sorted({float(v) for v in config["lr_grid"]} | {float(config["lr"])})


def regime_schedules(config: dict) -> np.ndarray:
    """Learning rate at every step: one row per constant rate of `sweep_lrs`, then the warm-up + cosine row.

    Returns:
      float32 array of shape (len(sweep_lrs(config)) + 1, steps).
    """
    steps = config["steps"]
    warm_cos = schedule_table(warmup_cosine(config, config["lr"]), steps)
    return np.stack([*(np.full(steps, lr) for lr in sweep_lrs(config)), warm_cos]).astype(np.float32)


# ------------------------------------------------------------- the run's two engine runs
def fit_regimes(config: dict, key: jax.Array, x, y, fit_mask: np.ndarray, *,
                checkpoint=None) -> tuple[sweep.Grid, Fits, np.ndarray]:
    """(c) and (d) in ONE engine run on the training points x, y (n, 1).

    The sweep part is `Grid(seed, regime)`: every row of `regime_schedules` x `lr_seeds` seeds, trained on
    the fit points (fit_mask 1) and scored on the rest (validation). One more config follows it: (c)'s model,
    all n points at the rate of (c), from seed 0's initialisation. Seed s starts from fold_in(key, s).

    Returns:
      (the sweep part's grid, the fits: grid.flat() order then (c), the learning-rate tables).
    """
    lr_tables = regime_schedules(config)
    grid = sweep.Grid(seed=range(config["lr_seeds"]), regime=range(lr_tables.shape[0]))
    flat = grid.flat()
    const = sweep_lrs(config).index(float(config["lr"]))
    seeds = np.append(flat["seed"], 0)
    keys = jax.vmap(lambda s: jax.random.fold_in(key, s))(jnp.asarray(seeds))
    fit_mask = np.asarray(fit_mask, np.float32)
    data = {"x": x, "y": y, "lr": lr_tables, "fit_w": np.stack([fit_mask, np.ones_like(fit_mask)]),
            "val_w": 1 - fit_mask}
    fits = train(Spec((1, *config["hidden"], 1)), data, keys=keys, lr_rows=np.append(flat["regime"], const),
                 fit_rows=np.append(np.zeros(grid.size, np.int32), 1), desc="(c) + (d) learning rates",
                 checkpoint=checkpoint, progress_bar=progress.bar)
    return grid, fits, lr_tables


def fit_gaussian(config: dict, key: jax.Array, x, y, *, checkpoint=None) -> Fits:
    """(f): the two-headed net on the Gaussian NLL of every training point, warm-up + cosine to peak nll_lr."""
    n, steps = np.shape(x)[0], config["steps"]
    data = {"x": x, "y": y, "lr": schedule_table(warmup_cosine(config, config["nll_lr"]), steps)[None],
            "fit_w": np.ones((1, n)), "val_w": np.zeros(n)}
    return train(Spec((1, *config["hidden"], 2), "mean_var"), data, keys=key[None], lr_rows=[0], fit_rows=[0],
                 var_floor=config["var_floor"], desc="(f) NLL fit", checkpoint=checkpoint, progress_bar=progress.bar)
