"""lipschitz: config -> spectrally normalised ResNet and inputs -> Lipschitz estimates per depth, BatchNorm study."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from experiments.lipschitz import estimates as lip
from experiments.lipschitz.plots import plot
from nndl import rand
from nndl.models import bn_block, resnet
from nndl.run import cli, progress, runio


@partial(jax.jit, static_argnames=("n_iter", "pair_steps"))
def depth_estimates(params, identity, depth, xs, pair_xs, pair_deltas, key, *, n_iter: int, pair_steps: int,
                    pair_lr: float) -> dict:
    """Lower bounds on Lip(f_depth) for the first `depth` blocks (traced: one compile for all depths).

    "pair_search_diverged" is True when a ratio of the pair search became non-finite (too large an Adam
    step sends the pairs to inf/NaN); its estimate is then NaN, and `run` writes it as null.
    """
    def f(x):
        return resnet.apply(params, x, depth=depth)

    sigmas, _ = lip.power_iteration_estimates(f, xs, key=key, n_iter=n_iter)
    best, history = lip.pair_search(f, pair_xs, pair_deltas, n_steps=pair_steps, learning_rate=pair_lr)

    def tight(x):  # W1 = W2 = I: on the positive orthant f(x) = 2^depth x, so a pair there attains the bound
        return resnet.apply(identity, x, depth=depth)

    x_pos = jnp.abs(xs[0]) + 0.1
    return {"estimate_power_iteration": jnp.max(sigmas), "estimate_pair_search": jnp.max(best),
            "pair_search_diverged": jnp.logical_not(jnp.all(jnp.isfinite(history))),
            "tight_example_estimate": lip.pair_ratio(tight, x_pos, 2.0 * x_pos)}


@partial(jax.jit, static_argnames=("dim", "hidden", "max_depth", "n_inputs", "n_pairs", "sn_iter", "bn_batches",
                                   "bn_batch"))
def draw(key: jax.Array, pair_delta, *, dim: int, hidden: int, max_depth: int, n_inputs: int, n_pairs: int,
         sn_iter: int, bn_batches: int, bn_batch: int) -> dict:
    """The spectrally normalised net and every random input of one run, in one compiled call."""
    k_init, k_sn, k_data = jax.random.split(key, 3)
    params, _ = resnet.spectral_normalize(resnet.init(k_init, dim, hidden, max_depth), key=k_sn, n_iter=sn_iter)
    xs, pair_xs, pair_deltas, bn_batches_, batch_a, batch_b = rand.normals(
        k_data, [(n_inputs, dim), (n_pairs, dim), (n_pairs, dim), (bn_batches, bn_batch, dim), (bn_batch, dim),
                 (bn_batch, dim)])
    return {"params": params, "identity": resnet.identity_params(dim, max_depth), "xs": xs, "pair_xs": pair_xs,
            "pair_deltas": pair_delta * pair_deltas,
            # unit-variance data; BN statistics are collected from scale * these
            "bn_batches": bn_batches_,
            # two batches that share example 0, for train-mode batch dependence
            "batch_a": batch_a, "batch_b": batch_b.at[0].set(batch_a[0])}


def eval_estimate(graphdef, block, xs, key, n_iter):
    """max over inputs of σ_max(J) of the eval-mode BN block (a fixed function of one input)."""
    sigmas, _ = lip.power_iteration_estimates(partial(bn_block.apply_eval, graphdef, block), xs,
                                              key=key, n_iter=n_iter)
    return jnp.max(sigmas)


@partial(jax.jit, static_argnames=("graphdef", "n_iter"))
def scale_study(graphdef, block, unit_batches, unit_inputs, scale, key, *, n_iter: int) -> dict:
    """Statistics collected from data of std `scale`: the eval-mode constant after each batch and at the end
    (and the statistics themselves, under "stats")."""
    trained, history = bn_block.collect_statistics(graphdef, block, scale * unit_batches)
    # the bound 1 + ‖W2‖ max|γ/√(var+ε)| ‖W1‖ after each batch; the weights never change
    norms = jnp.linalg.norm(block.weights["w1"], ord=2) * jnp.linalg.norm(block.weights["w2"], ord=2)
    slopes = jax.vmap(lambda stats: jnp.max(jnp.abs(bn_block.eval_scale(graphdef, block._replace(stats=stats)))))
    bounds = 1.0 + norms * slopes(jax.tree.map(lambda s0, h: jnp.concatenate([s0[None], h]), block.stats, history))
    return {"data_scale": scale, "running_var_mean": jnp.mean(trained.stats["var"]),
            "max_bn_scale": jnp.max(jnp.abs(bn_block.eval_scale(graphdef, trained))),
            "lipschitz_bound": bn_block.eval_lipschitz_bound(graphdef, trained),
            "estimate_power_iteration": eval_estimate(graphdef, trained, scale * unit_inputs, key, n_iter),
            "bound_history": bounds,
            "stats": trained.stats}


@partial(jax.jit, static_argnames=("graphdef",))
def batch_jacobians(graphdef, block, batch_a, batch_b) -> dict:
    """Example 0's output y₀ in train and eval mode: ∂y₀/∂(whole batch), shape (d, B, d), and its change
    when the rest of the batch is replaced (batch_b shares example 0 with batch_a)."""
    def out0(batch, train):
        return bn_block.apply(graphdef, block, batch, train=train)[0][0]

    return {"train_a": jax.jacfwd(out0)(batch_a, True), "train_b": jax.jacfwd(out0)(batch_b, True),
            "eval_a": jax.jacfwd(out0)(batch_a, False),
            "train_change": jnp.linalg.norm(out0(batch_a, True) - out0(batch_b, True)),
            "eval_change": jnp.linalg.norm(out0(batch_a, False) - out0(batch_b, False))}


def batch_dependence(graphdef, block, batch_a, batch_b) -> dict:
    """Train vs eval mode: does y₀ depend on example 1, and on which batch example 0 sits in?"""
    jac = jax.device_get(batch_jacobians(graphdef, block, batch_a, batch_b))
    def sigma(m):  # [:, 0]: w.r.t. example 0 itself, [:, 1]: w.r.t. example 1
        return float(np.linalg.norm(m, 2))

    return {"train_cross_jacobian_norm": sigma(jac["train_a"][:, 1]),
            "eval_cross_jacobian_norm": sigma(jac["eval_a"][:, 1]),
            "train_output_change_other_batch": float(jac["train_change"]),
            "eval_output_change_other_batch": float(jac["eval_change"]),
            "train_self_jacobian_sigma_batch_a": sigma(jac["train_a"][:, 0]),
            "train_self_jacobian_sigma_batch_b": sigma(jac["train_b"][:, 0]),
            "eval_self_jacobian_sigma": sigma(jac["eval_a"][:, 0])}


def batchnorm_study(arrays: dict, key: jax.Array, config: dict) -> tuple[dict, dict]:
    """Eval-mode Lipschitz constant vs the statistics collected; train-mode batch dependence."""
    # the first block of the ResNet, now with BatchNorm after W1
    first = jax.tree.map(lambda a: a[0], arrays["params"])
    graphdef, block = bn_block.init(first, momentum=config["bn_momentum"], epsilon=config["bn_epsilon"])
    study = partial(scale_study, graphdef, block, arrays["bn_batches"], arrays["xs"], key=key, n_iter=config["n_iter"])
    # power iteration at inputs of the data's own scale
    rows = [jax.device_get(study(scale)) for scale in config["bn_scales"]]
    curves = {"bn_scales": np.asarray(config["bn_scales"]),
              "bn_bound_history": np.stack([r.pop("bound_history") for r in rows])}
    stats = {scale: r.pop("stats") for scale, r in zip(config["bn_scales"], rows)}
    # train-mode dependence, with statistics collected from unit-variance data
    trained = block._replace(stats=stats[1.0] if 1.0 in stats else study(1.0)["stats"])
    metrics = {"momentum": config["bn_momentum"], "epsilon": config["bn_epsilon"], "batch_size": config["bn_batch"],
               "n_batches": config["bn_batches"], "by_data_scale": runio.to_jsonable(rows),
               "train_mode": batch_dependence(graphdef, trained, arrays["batch_a"], arrays["batch_b"])}
    return metrics, curves


def run(config: dict, out: Path) -> dict:
    key, k_power, k_bn_power = jax.random.split(jax.random.key(config["seed"]), 3)
    arrays = draw(key, config["pair_delta"], dim=config["dim"], hidden=config["hidden"],
                  max_depth=max(config["depths"]), n_inputs=config["n_inputs"], n_pairs=config["n_pairs"],
                  sn_iter=config["sn_iter"], bn_batches=config["bn_batches"], bn_batch=config["bn_batch"])
    # exact spectral norms by numpy's SVD (small matrices, and no XLA compile)
    w_norms = {w: np.linalg.norm(np.asarray(arrays["params"][w]), 2, axis=(1, 2)) for w in ("w1", "w2")}
    block_bounds = 1.0 + w_norms["w1"] * w_norms["w2"]  # Lip(T_l) <= 1 + ‖W1_l‖‖W2_l‖
    per_depth = []
    with progress.bar(len(config["depths"]), "depths", unit="depth") as bar:
        for depth in config["depths"]:
            est = depth_estimates(arrays["params"], arrays["identity"], depth, arrays["xs"], arrays["pair_xs"],
                                  arrays["pair_deltas"], k_power, n_iter=config["n_iter"],
                                  pair_steps=config["pair_steps"], pair_lr=config["pair_lr"])
            row = {"depth": depth, "upper_bound": 2.0**depth,
                   "upper_bound_exact_norms": float(np.prod(block_bounds[:depth])),
                   **runio.to_jsonable(jax.device_get(est))}
            if row["pair_search_diverged"]:  # no estimate: a non-finite ratio bounds nothing
                row["estimate_pair_search"] = None
            row["estimate_over_bound"] = max(v for v in (row["estimate_power_iteration"], row["estimate_pair_search"])
                                             if v is not None) / 2.0**depth
            per_depth.append(row)
            bar.set_postfix(L=depth, est=f"{row['estimate_power_iteration']:.3g}")
            bar.update(1)
    batchnorm, bn_curves = batchnorm_study(arrays, k_bn_power, config)
    all_norms = np.concatenate(list(w_norms.values()))
    metrics = {"dim": config["dim"], "hidden": config["hidden"],
               "spectral_norms": {"max_abs_deviation_from_1": float(np.max(np.abs(all_norms - 1.0))),
                                  "max": float(np.max(all_norms))},
               "per_depth": per_depth, "batchnorm": batchnorm}
    lost = [r["depth"] for r in per_depth if r["pair_search_diverged"]]
    cli.warn_diverged("lipschitz", len(lost), len(per_depth),
                      f" (the pair search at L = {', '.join(map(str, lost))}, --pair-lr {config['pair_lr']:g})")
    runio.save_curves(out / "curves.npz", **bn_curves)
    plot(metrics, bn_curves, out)
    return metrics
