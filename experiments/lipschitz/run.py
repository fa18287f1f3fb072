"""ResNets with 1-Lipschitz blocks: measured Lipschitz lower bounds vs the bounds 2 and 2^L; BatchNorm breaks them.

Run: python -m experiments.lipschitz [--quick|--full] [--out DIR] [--seed N] [--depths 1,2,4,8,16]
Shows: seed 000 §4. f = T_L ∘ … ∘ T_1, T(x) = x + F(x), F(x) = W2ᵀ relu(W1ᵀx + b1) + b2 with
W1, W2 spectrally normalised by power iteration (‖W‖₂ = 1), so F is 1-Lipschitz,
Lip(T) <= 2 (a) and Lip(f) <= 2^L (b). For L in --depths: the largest Jacobian singular
value over many inputs (power iteration with jax.jvp/jax.vjp) and the best ratio
‖f(x) - f(y)‖/‖x - y‖ found by Adam ascent over input pairs, both lower bounds on Lip(f),
against 2^L; the block W1 = W2 = I attains 2^L exactly (bounds.png, log scale).
(c) The same block with flax.nnx BatchNorm after W1: in eval mode BN is the affine map
z ↦ γ(z - μ)/√(var + ε) + β, so Lip grows like 1/√var as the running variance collected
from the data shrinks (by data scale and by number of batches seen, batchnorm.png); in
train mode one example's output depends on the rest of its batch.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from nndl.run import cli, progress, runio, templates
from nndl import rand
from nndl import lipschitz as lip
from nndl.run.checks import check
from nndl.run.flags import Key
from nndl.models import bn_block, resnet
from nndl.run.plotting import save_figure, subplots

NAME = "lipschitz"
SHEET = "seed 000 §4"
TEXT = templates.beside(__file__)

# float32 power iteration / SVD round-off allowed when comparing an estimate with a bound.
BOUND_RTOL = 1e-4


def get_config(full: bool = False) -> dict:
    config = {"seed": 0, "dim": 16, "hidden": 32, "depths": [1, 2, 4, 8, 16],
              "n_inputs": 128,       # inputs for the Jacobian power iteration
              "n_iter": 30,          # power iterations per Jacobian
              "sn_iter": 500,        # power iterations of the spectral normalisation
              "n_pairs": 64, "pair_steps": 200, "pair_lr": 0.02, "pair_delta": 0.1,
              "bn_scales": [0.03, 0.1, 0.3, 1.0, 3.0, 10.0],  # std of the data the BN statistics see
              "bn_batch": 64, "bn_batches": 100, "bn_momentum": 0.9, "bn_epsilon": 1e-5}
    if full:
        # larger matrices have closer top singular values: more power iterations for ‖W‖₂ = 1 ± 1e-4
        config.update(dim=64, hidden=128, n_inputs=1024, n_iter=100, sn_iter=3000, n_pairs=512, pair_steps=1000,
                      bn_batches=200)
    return config


KEYS = {
    "dim": Key("block width d", lo=1, hi=4096),
    "hidden": Key("hidden width of F", lo=1, hi=4096),
    "depths": Key("numbers of blocks L, e.g. 1,2,4,8,16", lo=1, hi=64, unique=True,
                  why="2^64 overflows float32 bounds"),
    "n_inputs": Key("inputs for the Jacobian power iteration", lo=1, hi=100_000),
    "n_iter": Key("power iterations per Jacobian", lo=1, hi=100_000),
    "sn_iter": Key("power iterations of the spectral normalisation", lo=1, hi=1_000_000),
    "n_pairs": Key("input pairs in the adversarial search", lo=1, hi=100_000),
    "pair_steps": Key("Adam steps of the pair search", lo=0, hi=1_000_000),
    "pair_lr": Key("Adam learning rate of the pair search", positive=True),
    "pair_delta": Key("std of the initial offsets y - x", positive=True, hi=1e6),
    "bn_scales": Key("data std values seen by BatchNorm, e.g. 0.1,1,10", positive=True, hi=1e6, unique=True),
    "bn_batch": Key("BatchNorm batch size", lo=2, hi=100_000, why="a batch of one has zero variance"),
    "bn_batches": Key("train-mode batches that collect the running statistics", lo=1, hi=1_000_000),
    "bn_momentum": Key("BatchNorm momentum in [0, 1)", lo=0, hi=1),
    "bn_epsilon": Key("BatchNorm epsilon", positive=True, hi=1e6),
}


def validate(config: dict) -> None:
    if config["bn_momentum"] >= 1:
        raise cli.UserError(f"--bn-momentum must be < 1 (1 never updates the statistics), got {config['bn_momentum']:g}")


# ------------------------------------------------------------------ maths glue
@partial(jax.jit, static_argnames=("n_iter", "pair_steps"))
def depth_estimates(params, identity, depth, xs, pair_xs, pair_deltas, key, *, n_iter: int, pair_steps: int,
                    pair_lr: float) -> dict:
    """Lower bounds on Lip(f_depth) for the first `depth` blocks (traced: one compile for all depths)."""
    f = lambda x: resnet.apply(params, x, depth=depth)
    sigmas, _ = lip.power_iteration_estimates(f, xs, key=key, n_iter=n_iter)
    best, _ = lip.pair_search(f, pair_xs, pair_deltas, n_steps=pair_steps, learning_rate=pair_lr)
    # W1 = W2 = I: on the positive orthant f(x) = 2^depth x, so a pair there attains the bound
    tight = lambda x: resnet.apply(identity, x, depth=depth)
    x_pos = jnp.abs(xs[0]) + 0.1
    return {"estimate_power_iteration": jnp.max(sigmas), "estimate_pair_search": jnp.max(best),
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
    out0 = lambda batch, train: bn_block.apply(graphdef, block, batch, train=train)[0][0]
    return {"train_a": jax.jacfwd(out0)(batch_a, True), "train_b": jax.jacfwd(out0)(batch_b, True),
            "eval_a": jax.jacfwd(out0)(batch_a, False),
            "train_change": jnp.linalg.norm(out0(batch_a, True) - out0(batch_b, True)),
            "eval_change": jnp.linalg.norm(out0(batch_a, False) - out0(batch_b, False))}


def batch_dependence(graphdef, block, batch_a, batch_b) -> dict:
    """Train vs eval mode: does y₀ depend on example 1, and on which batch example 0 sits in?"""
    jac = jax.device_get(batch_jacobians(graphdef, block, batch_a, batch_b))
    sigma = lambda m: float(np.linalg.norm(m, 2))  # [:, 0]: w.r.t. example 0 itself, [:, 1]: w.r.t. example 1
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
            row["estimate_over_bound"] = max(row["estimate_power_iteration"], row["estimate_pair_search"]) / 2.0**depth
            per_depth.append(row)
            bar.set_postfix(L=depth, est=f"{row['estimate_power_iteration']:.3g}")
            bar.update(1)
    batchnorm, bn_curves = batchnorm_study(arrays, k_bn_power, config)
    all_norms = np.concatenate(list(w_norms.values()))
    metrics = {"dim": config["dim"], "hidden": config["hidden"],
               "spectral_norms": {"max_abs_deviation_from_1": float(np.max(np.abs(all_norms - 1.0))),
                                  "max": float(np.max(all_norms))},
               "per_depth": per_depth, "batchnorm": batchnorm}
    runio.save_curves(out / "curves.npz", **bn_curves)
    save_figure(bounds_figure(per_depth), out / "bounds.png")
    save_figure(batchnorm_figure(batchnorm, bn_curves), out / "batchnorm.png")
    return metrics


# -------------------------------------------------------------------- figures
def bounds_figure(per_depth: list[dict]):
    fig, ax = subplots(1, 1, width=6.0, height=4.5)
    a = ax[0, 0]
    depth = [r["depth"] for r in per_depth]
    a.plot(depth, [r["upper_bound"] for r in per_depth], "k-", lw=2, label="upper bound 2^L")
    a.plot(depth, [r["tight_example_estimate"] for r in per_depth], "o", ms=10, mfc="none", color="k",
           label="W1 = W2 = I: attains 2^L")
    a.plot(depth, [r["estimate_power_iteration"] for r in per_depth], "s-", label="max σ_max(J) (power iteration)")
    a.plot(depth, [r["estimate_pair_search"] for r in per_depth], "^--", label="best ‖f(x)-f(y)‖/‖x-y‖ (pair search)")
    # linear L against log₂ Lip: the bound 2^L is a straight line of slope 1
    a.set_yscale("log", base=2)
    a.set_xticks(depth, [str(d) for d in depth])
    a.set(xlabel="number of residual blocks L", ylabel="Lipschitz constant (log₂ scale)",
          title="spectrally normalised ResNet: estimates vs bound")
    a.legend(loc="upper left", fontsize=9)
    return fig


def batchnorm_figure(bn: dict, curves: dict):
    fig, ax = subplots(1, 2, width=5.5)
    rows = bn["by_data_scale"]
    scale = [r["data_scale"] for r in rows]
    a = ax[0, 0]
    a.loglog(scale, [r["lipschitz_bound"] for r in rows], "o-", label="bound 1 + ‖W2‖ max γ/√(var+ε) ‖W1‖")
    a.loglog(scale, [r["estimate_power_iteration"] for r in rows], "s--", label="max σ_max(J) (power iteration)")
    a.axhline(2.0, color="k", lw=1, ls=":", label="bound 2 without BatchNorm")
    a.set(xlabel="std of the data that filled the running statistics", ylabel="Lipschitz constant, eval mode",
          title="eval-mode BN block: Lip grows as var shrinks")
    a.legend(loc="upper right", fontsize=8)
    b = ax[0, 1]
    k = np.arange(curves["bn_bound_history"].shape[1])
    for s, hist in zip(curves["bn_scales"], curves["bn_bound_history"]):
        b.semilogy(k, hist, label=f"data std {s:g}")
    b.set(xlabel=f"train-mode batches seen (momentum {bn['momentum']:g})", ylabel="Lipschitz bound, eval mode",
          title="the constant moves with the running statistics")
    b.legend(loc="upper left", fontsize=8)
    return fig


# --------------------------------------------------------------------- report
def report_fields(metrics: dict) -> dict:
    rows, bn = metrics["per_depth"], metrics["batchnorm"]
    by_scale = sorted(bn["by_data_scale"], key=lambda r: r["data_scale"])
    deep = rows[-1]
    within = lambda r: sum(r[k] <= r["upper_bound"] * (1 + BOUND_RTOL)
                           for k in ("estimate_power_iteration", "estimate_pair_search"))
    est = max(r["estimate_power_iteration"] for r in by_scale)
    small, large = by_scale[0], by_scale[-1]
    base = {"bn_max_est": est, "bn_max_bound": max(r["lipschitz_bound"] for r in by_scale)}
    return {**metrics, **base, "rtol": BOUND_RTOL, "n_within": sum(within(r) == 2 for r in rows),
            "one_within": within(next((r for r in rows if r["depth"] == 1), rows[0])),
            "vs_two": templates.render(TEXT, "c_above_two" if est > 2.0 else "c_below_two", base),
            "bn_ratio": small["max_bn_scale"] / large["max_bn_scale"],
            "var_ratio": (large["running_var_mean"] / small["running_var_mean"]) ** 0.5, "one": next((r for r in rows if r["depth"] == 1), rows[0]), "deep": deep,
            "deep_best": max(deep["estimate_power_iteration"], deep["estimate_pair_search"]),
            "pair_wins": sum(r["estimate_pair_search"] > r["estimate_power_iteration"] for r in rows),
            "n_depths": len(rows), "small": by_scale[0], "large": by_scale[-1], "tm": bn["train_mode"]}


def report(metrics: dict) -> list[dict]:
    rows, bn = metrics["per_depth"], metrics["batchnorm"]
    f = report_fields(metrics)
    one, tm = f["one"], f["tm"]
    part = lambda key: {"derivation": templates.render(TEXT, f"{key}_derivation", f),
                        "text": templates.render(TEXT, f"{key}_text", f)}
    estimators = ["nndl.lipschitz.jacobian_sigma_max", "nndl.lipschitz.power_iteration_estimates",
                  "nndl.lipschitz.pair_ratio", "nndl.lipschitz.pair_search"]
    return [
        {"question": "§4 (a): why is T(x) = x + F(x) Lipschitz, and an upper bound for Lip(T)", "ids": ["000 §4(a)"],
         **part("a"), "figures": [],
         "table": [["‖W‖₂ after spectral normalisation (max)", metrics["spectral_norms"]["max"]],
                   [f"L = {one['depth']}: power iteration", one["estimate_power_iteration"]],
                   [f"L = {one['depth']}: pair search", one["estimate_pair_search"]],
                   ["W1 = W2 = I example", one["tight_example_estimate"]], ["bound", one["upper_bound"]]],
         "code": ["nndl.models.resnet.residual", "nndl.models.resnet.spectral_normalize", *estimators]},
        {"question": "§4 (b): an upper bound on Lip(f), f = T_L ∘ … ∘ T_1, as a function of L", "ids": ["000 §4(b)"],
         **part("b"), "figures": ["bounds.png"],
         "table": [["L", "2^L", "prod (1 + ‖W1‖‖W2‖)", "power iteration", "pair search", "W = I example"]]
         + [[r["depth"], r["upper_bound"], r["upper_bound_exact_norms"], r["estimate_power_iteration"],
             r["estimate_pair_search"], r["tight_example_estimate"]] for r in rows],
         "code": ["nndl.models.resnet.apply", "experiments.lipschitz.depth_estimates"]},
        {"question": "§4 (c): why BatchNorm complicates a Lipschitz guarantee at test time", "ids": ["000 §4(c)"],
         **part("c"), "figures": ["batchnorm.png"],
         "table": [["data std", "running var (mean)", "max γ/√(var+ε)", "bound", "power iteration"]]
         + [[r["data_scale"], r["running_var_mean"], r["max_bn_scale"], r["lipschitz_bound"],
             r["estimate_power_iteration"]] for r in bn["by_data_scale"]]
         + [["train mode: ‖∂y₀/∂x₁‖ (eval mode)",
             f"{tm['train_cross_jacobian_norm']:.3g} ({tm['eval_cross_jacobian_norm']:.3g})", "", "", ""]],
         "code": ["nndl.models.bn_block.apply", "nndl.models.bn_block.eval_scale",
                  "nndl.models.bn_block.eval_lipschitz_bound", "nndl.models.bn_block.collect_statistics",
                  "experiments.lipschitz.batch_dependence"]},
    ]


def checks(metrics: dict) -> list[dict]:
    rows, bn = metrics["per_depth"], metrics["batchnorm"]
    tm = bn["train_mode"]
    within = lambda est, bound: est <= bound * (1 + BOUND_RTOL)
    out = [check("‖W‖₂ = 1 after spectral normalisation", 1.0, metrics["spectral_norms"]["max"],
                 f"{BOUND_RTOL:g} (power iteration underestimates σ)",
                 metrics["spectral_norms"]["max_abs_deviation_from_1"] <= BOUND_RTOL)]
    for r in rows:
        out.append(check(f"L = {r['depth']}: estimates <= 2^L", r["upper_bound"],
                         max(r["estimate_power_iteration"], r["estimate_pair_search"]), f"{BOUND_RTOL:g} relative",
                         within(r["estimate_power_iteration"], r["upper_bound"])
                         and within(r["estimate_pair_search"], r["upper_bound"])))
        out.append(check(f"L = {r['depth']}: W = I example attains 2^L", r["upper_bound"], r["tight_example_estimate"],
                         f"{BOUND_RTOL:g} relative",
                         abs(r["tight_example_estimate"] - r["upper_bound"]) <= BOUND_RTOL * r["upper_bound"]))
    for r in bn["by_data_scale"]:
        out.append(check(f"BN eval, data std {r['data_scale']:g}: estimate <= 1 + max γ/√(var+ε)", r["lipschitz_bound"],
                         r["estimate_power_iteration"], f"{BOUND_RTOL:g} relative",
                         within(r["estimate_power_iteration"], r["lipschitz_bound"])))
    out.append(check("BN eval: no dependence on other examples", 0.0, tm["eval_cross_jacobian_norm"], "exact",
                     tm["eval_cross_jacobian_norm"] == 0 and tm["eval_output_change_other_batch"] == 0))
    out.append(check("BN train: output depends on other examples", "> 0", tm["train_cross_jacobian_norm"], "> 0",
                     tm["train_cross_jacobian_norm"] > 0 and tm["train_output_change_other_batch"] > 0))
    return out


def main(argv=None) -> int:
    return cli.run_experiment(NAME, doc=__doc__, get_config=get_config, run=run,
                              keys=KEYS, validate=validate, argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
