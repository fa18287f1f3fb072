"""SGD vs Adam on seed 003's Project 2 tasks (ex. 4.3): linear models, their losses and data, the exact optima
and the two measures of convergence."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from experiments.adam.config import TASKS
from nndl import data, losses, optim
from nndl.numerics import lstsq
from nndl.sweep import derive_seeds


def linear(params, x: jax.Array) -> jax.Array:
    """Linear model for ONE example: x (d,) -> () = x w + b."""
    return x @ params["w"] + params["b"]


def example_loss(params, x: jax.Array, y: jax.Array, logistic) -> jax.Array:
    """Per-example loss of ONE example: logistic loss (labels +-1) where `logistic` is true, else squared error.

    `logistic` may be traced (one config of a sweep over tasks); both losses are finite on either task's data.
    """
    z = linear(params, x)
    return jnp.where(logistic, losses.logistic(z, y), losses.mse(z[None], y[None]))


def batch_losses(params, x: jax.Array, y: jax.Array, logistic) -> jax.Array:
    """Per-example losses of a batch: x (n, d), y (n,) -> (n,)."""
    return jax.vmap(example_loss, in_axes=(None, 0, 0, None))(params, x, y, logistic)


def accuracy(params, x: jax.Array, y: jax.Array) -> jax.Array:
    """Share of the batch whose sign(x w + b) equals the label +-1."""
    return jnp.mean(jnp.sign(jax.vmap(linear, in_axes=(None, 0))(params, x)) == y)


def either(flag, a: optax.GradientTransformation, b: optax.GradientTransformation) -> optax.GradientTransformation:
    """The updates of `a` where `flag` is true, else those of `b` (flag may be traced: one config of a sweep).

    Both run on every step and keep their own state side by side, so configs with
    either choice share one program under `jax.vmap`.
    """

    def init(params):
        return a.init(params), b.init(params)

    def update(updates, state, params=None):
        from_a, state_a = a.update(updates, state[0], params)
        from_b, state_b = b.update(updates, state[1], params)
        return jax.tree.map(lambda u, v: jnp.where(flag, u, v), from_a, from_b), (state_a, state_b)

    return optax.GradientTransformation(init, update)


def optimizer(hp: dict) -> optax.GradientTransformation:
    """nndl's Adam where hp["adam"] is true, else plain SGD, at learning rate hp["lr"]."""
    return either(hp["adam"], optim.adam(hp["lr"]), optim.sgd(hp["lr"]))


def task_data(task: str, seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Documented synthetic data of seed 003's project (see `nndl.data`)."""
    if task == "one_var":
        return data.make_linear(seed, n, [2.0], -1.0, 0.1)
    if task == "two_var":
        return data.make_linear(seed, n, [1.5, -2.0], 0.5, 0.1)
    return data.make_blobs(seed, n, [1.0, 1.0], 1.0)


def task_splits(config: dict) -> dict[str, tuple[np.ndarray, ...]]:
    """{task: (x_tr, y_tr, x_te, y_te)}: the first train_share of each task's points train, the rest test."""
    n_train = int(config["train_share"] * config["n_points"])
    splits = {}
    for i, task in enumerate(TASKS):
        x, y = task_data(task, config["seed"] * 10 + i, config["n_points"])
        splits[task] = (x[:n_train], y[:n_train], x[n_train:], y[n_train:])
    return splits


def stacked(splits: dict[str, tuple[np.ndarray, ...]]) -> dict[str, np.ndarray]:
    """Every task's split as one float32 array with a leading task axis (TASKS order), features zero-padded
    to the widest task: a zero feature has zero gradient, so its weight stays 0 under SGD and Adam alike."""
    d = max(splits[t][0].shape[1] for t in TASKS)

    def pad(x):
        return np.pad(x, ((0, 0), (0, d - x.shape[1])))

    parts = [(pad(x_tr), y_tr, pad(x_te), y_te) for x_tr, y_tr, x_te, y_te in (splits[t] for t in TASKS)]
    names = ("x_train", "y_train", "x_test", "y_test")
    return {name: np.stack([p[i] for p in parts]).astype(np.float32) for i, name in enumerate(names)}


def shuffle_seeds(seed: int) -> np.ndarray:
    """The minibatch-order seed of each task (TASKS order): SGD and Adam on one task see the same batches."""
    return derive_seeds(seed, len(TASKS))


def optimum(task: str, x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """Exact minimiser {"w", "b"} of the task's mean training loss (least squares / Newton)."""
    return lstsq.logistic_newton(x, y) if task == "classification" else lstsq.least_squares(x, y)


def mean_loss_np(task: str, x, y, w, b) -> float:
    """The task's mean loss in float64 numpy (for the exact optimum)."""
    if task == "classification":
        return lstsq.logistic_loss(x, y, w, b)
    return float(np.mean((x @ w + b - y) ** 2))


def epochs_to_tolerance(train_curve: np.ndarray, best: float, tolerance: float) -> int | None:
    """First epoch (1-based) whose training loss is within `tolerance` (relative) of the optimum; None if never."""
    hit = np.flatnonzero(np.asarray(train_curve) <= best * (1 + tolerance))
    return int(hit[0]) + 1 if hit.size else None


def epochs_to_stay(train_curve: np.ndarray, best: float, tolerance: float) -> int | None:
    """First epoch (1-based) from which the training loss stays within `tolerance` of the optimum to the end.

    Unlike the first crossing, a run that touches the tolerance and drifts out again
    does not count as converged; None when the last epoch is outside.
    """
    outside = np.flatnonzero(~(np.asarray(train_curve) <= best * (1 + tolerance)))  # NaN (diverged) is outside
    if outside.size == 0:
        return 1
    last = int(outside[-1]) + 1  # 1-based epoch of the last excursion
    return last + 1 if last < len(train_curve) else None
