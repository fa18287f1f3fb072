"""sgd_noise: config -> simulations and gradient statistics -> metrics.json, curves.npz, the figure."""

from __future__ import annotations

import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from experiments.sgd_noise import sampling
from experiments.sgd_noise.plots import plot
from nndl import data, losses, optim
from nndl.models import mlp
from nndl.run import progress, runio


# (a), (b)
def p_never(key: jax.Array, ns: list[int], trials: int, block: int = 20_000) -> list[dict]:
    """Simulated vs exact probability of never drawing a given observation in one epoch.

    The trials run in jitted blocks (block b uses fold_in(key, b)) so a long run shows progress.
    """
    simulate = jax.jit(lambda k, size: jnp.sum(sampling.never_sampled(k, ns, size), axis=0), static_argnums=1)
    counts = np.zeros(len(ns))
    with progress.bar(trials, "(a) never-sampled epochs", unit="epoch") as pbar:
        for b, start in enumerate(range(0, trials, block)):
            size = min(block, trials - start)
            counts += np.asarray(simulate(jax.random.fold_in(key, b), size), np.float64)
            pbar.update(size)
    simulated = counts / trials
    rows = []
    for n, p in zip(ns, np.asarray(simulated, np.float64)):
        p = float(p)
        stderr = math.sqrt(max(p * (1 - p), 1e-300) / trials)
        formula = (1 - 1 / n) ** n
        rows.append({"n": n, "simulated": p, "stderr": stderr, "formula": formula,
                     "z": (p - formula) / stderr if stderr > 0 else None})
    return rows


# ------------------------------------------------------- (d), (e), (f)
def model_params(config: dict):
    """The He-initialised (1, *hidden, 1) MLP whose gradients are sampled, from key fold_in(key(seed), 1)."""
    key = jax.random.fold_in(jax.random.key(config["seed"]), 1)
    return jax.jit(mlp.init, static_argnums=1)(key, (1, *config["hidden"], 1))


def model_gradients(config: dict) -> jax.Array:
    """Per-example gradients (N, P) of the MSE of `model_params` on the 1,000 rows of data/x_y.csv."""
    columns = data.load_csv(data.X_Y_PATH)
    x = jnp.asarray(columns["x"], jnp.float32)[:, None]
    y = jnp.asarray(columns["y"], jnp.float32)[:, None]

    def loss(p, xi, yi):  # one example
        return losses.mse(mlp.apply(p, xi), yi)

    return jax.jit(lambda p: sampling.per_example_grads(loss, p, x, y))(model_params(config))


def sq_deviations(key, grads, sizes, trials) -> tuple[jax.Array, jax.Array]:
    """||g_b - g||^2 for every draw and batch size (trials, len(sizes)), and sigma^2."""
    full = jnp.mean(grads, axis=0)
    devs = sampling.minibatch_means(key, grads, sizes, trials,
                                    lambda means: jnp.sum(jnp.square(means - full[None]), axis=-1))
    return devs, sampling.population_variance(grads)


def sgd_step_variance(key, grads, batch_sizes, lrs, trials) -> jax.Array:
    """Measured E||theta' - E theta'||^2 of one SGD step theta' = theta - lr g_b, per (batch size, lr).

    Args:
      batch_sizes: (k,) batch of each setting (static).
      lrs: (k, r) learning rates: one column per scaling rule.

    Returns:
      (k, r) variances over `trials` draws.
    """
    full = jnp.mean(grads, axis=0)

    def step(g, lr):  # the update nndl's SGD applies to theta for minibatch gradient g
        tx = optim.sgd(lr)
        return tx.update(g, tx.init(g))[0]

    per_rule = jax.vmap(step, in_axes=(None, 0))          # g (P,), lrs (r,) -> (r, P)
    per_setting = jax.vmap(per_rule, in_axes=(0, 0))      # (k, P), (k, r) -> (k, r, P)
    expected = per_setting(jnp.broadcast_to(full, (len(batch_sizes), full.size)), lrs)  # E[step] = -lr g

    def sq_dev(means):  # one trial: (k, P) -> (k, r)
        return jnp.sum(jnp.square(per_setting(means, lrs) - expected), axis=-1)

    return jnp.mean(sampling.minibatch_means(key, grads, batch_sizes, trials, sq_dev), axis=0)


def run(config: dict, out: Path) -> dict:
    key = jax.random.key(config["seed"])
    never_key, batch_key, step_key = jax.random.split(key, 3)
    rows = p_never(never_key, config["ns"], config["trials"])

    grads = model_gradients(config)
    n_pop = int(grads.shape[0])
    sizes, trials = config["batch_sizes"], config["grad_trials"]
    devs, sigma2 = jax.jit(sq_deviations, static_argnums=(2, 3))(batch_key, grads, tuple(sizes), trials)
    devs, sigma2 = np.asarray(devs, np.float64), float(sigma2)
    variances = devs.mean(axis=0)
    stderr = devs.std(axis=0, ddof=1) / np.sqrt(trials)
    fpc = sampling.finite_population_correction(n_pop, sizes)
    iid = sigma2 / np.asarray(sizes, np.float64)
    minibatch = {"batch_sizes": sizes, "variances": variances.tolist(), "stderr": stderr.tolist(),
                 "theory": iid.tolist(), "theory_fpc": (iid * fpc).tolist(), "sigma2": sigma2,
                 "n_population": n_pop, "n_params": int(grads.shape[1]), "trials": trials,
                 "slope": sampling.loglog_slope(sizes, variances),
                 "slope_fpc_corrected": sampling.loglog_slope(sizes, variances / fpc)}

    ks, b0, lr0 = config["ks"], config["base_batch"], config["base_lr"]
    step_sizes = tuple(b0 * k for k in ks)
    lrs = np.array([[lr0 * k, lr0 * math.sqrt(k)] for k in ks], np.float32)
    step_var = np.asarray(jax.jit(sgd_step_variance, static_argnums=(2, 4))(
        step_key, grads, step_sizes, lrs, trials), np.float64)
    var_base = lr0**2 * sigma2 / b0
    lr_scaling = [{"k": k, "batch_size": b, "lr_linear": float(lrs[i, 0]), "lr_sqrt": float(lrs[i, 1]),
                   "var_linear": float(step_var[i, 0]), "var_sqrt": float(step_var[i, 1]),
                   "theory_linear": k * var_base * float(sampling.finite_population_correction(n_pop, b)),
                   "theory_sqrt": var_base * float(sampling.finite_population_correction(n_pop, b)),
                   "var_base": var_base}
                  for i, (k, b) in enumerate(zip(ks, step_sizes))]

    metrics = {"p_never": rows, "inv_e": 1 / math.e, "trials": config["trials"],
               "minibatch_variance": minibatch, "lr_scaling": lr_scaling,
               "lr_scaling_setup": {"base_batch": b0, "base_lr": lr0, "var_base": var_base,
                                    "var_base_definition": "base_lr^2 sigma^2 / base_batch (iid analysis)"}}
    runio.save_curves(out / "curves.npz", sq_deviations=devs, step_variance=step_var)
    plot(metrics, out)
    return metrics
