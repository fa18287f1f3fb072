"""backprop: config -> manual gradients vs jax.grad, FLOP counts vs XLA, seed 002's net by hand -> metrics, figures."""

from __future__ import annotations

import itertools
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from experiments.backprop import opcount, passes, twolayer
from experiments.backprop.plots import plot
from nndl import activations, losses, rand
from nndl.models import mlp
from nndl.run import cli, progress


def max_abs_diff(a, b) -> jax.Array:
    """max |a - b| over every leaf of two pytrees of the same structure."""
    return jnp.max(jnp.stack([jnp.max(jnp.abs(u - v)) for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b))]))


# ----------------------------------------------------------------- seed 001 ex. 2
def grad_errors(params, xs, ys, activation: str):
    """Manual vs jax.grad gradients of the batch-mean MSE: (max |diff|, max |jax.grad|, |loss diff|)."""
    loss, grads = passes.loss_and_grad(params, xs, ys, activation)

    def reference_loss(p):
        preds = jax.vmap(lambda x: mlp.apply(p, x, activations.get(activation)))(xs)
        return jnp.mean(jax.vmap(losses.mse)(preds, ys))

    ref_loss, ref_grads = jax.value_and_grad(reference_loss)(params)
    scale = max_abs_diff(ref_grads, jax.tree.map(jnp.zeros_like, ref_grads))
    return max_abs_diff(grads, ref_grads), scale, jnp.abs(loss - ref_loss)


def grad_cases(key, cases: list, batch: int) -> list[dict]:
    """Every gradient-check case: params W ~ N(0, 2/fan_in), b ~ N(0, 1), inputs and targets N(0, 1)."""
    all_sizes = [opcount.layer_sizes(*case[:4]) for case in cases]
    shapes = []
    for sizes in all_sizes:
        shapes += [s for a, b in itertools.pairwise(sizes) for s in ((a, b), (b,))]
        shapes += [(batch, sizes[0]), (batch, sizes[-1])]
    # One PRNG call for all cases: each jax.random call compiles its own kernel (seconds).
    draws = iter(rand.normals(key, shapes))
    data = [([{"w": next(draws), "b": next(draws)} for _ in sizes[:-1]], next(draws), next(draws))
            for sizes in all_sizes]
    acts = tuple(case[4] for case in cases)

    def all_cases(data):
        # He scale for the weights; one compilation for all cases (it costs far more than they run).
        return [grad_errors([{"w": p["w"] * np.sqrt(2.0 / p["w"].shape[0]), "b": p["b"]} for p in params],
                            xs, ys, act) for (params, xs, ys), act in zip(data, acts)]

    errors = jax.jit(all_cases)(data)
    rows = []
    for case, (diff, scale, loss_err) in zip(cases, errors):
        rows.append({"I": case[0], "O": case[1], "K": case[2], "L": case[3], "activation": case[4], "batch": batch,
                     "max_abs_err": float(diff), "max_rel_err": float(diff / scale), "loss_abs_err": float(loss_err)})
    return rows


def flop_row(n_in, n_out, n_hidden, width, batch) -> dict:
    """One row of the FLOP table: the analytic counts, XLA's, the sheet's big-O and the backward/forward ratios."""
    forward_xla, backward_xla = opcount.xla_forward_backward(n_in, n_out, n_hidden, width, batch)
    forward = opcount.forward_flops(n_in, n_out, n_hidden, width, batch)
    backward = opcount.backward_flops(n_in, n_out, n_hidden, width, batch)
    autodiff = opcount.backward_flops_autodiff(n_in, n_out, n_hidden, width, batch)
    big = opcount.big_o(n_in, n_out, n_hidden, width, batch)
    return {"I": n_in, "O": n_out, "K": n_hidden, "L": width, "batch": batch,
            "forward_analytic": forward, "backward_analytic": backward,
            "forward_xla": forward_xla, "backward_xla": backward_xla, "backward_autodiff_model": autodiff,
            "forward_bigO_madds": big["forward"], "backward_bigO_madds": big["backward"],
            "forward_bigO": big["forward_text"], "backward_bigO": big["backward_text"],
            "ratio_analytic": backward / forward, "ratio_xla": backward_xla / forward_xla}


# ------------------------------------------------------------------- seed 002
SLOPE_SHEET = 5.0  # the factor the worked answer puts in front of the whole of Linear_2


@partial(jax.jit, static_argnames=("n", "d", "k", "n_points", "steps"))
def seed002_arrays(key, lr, *, n: int, d: int, k: int, n_points: int, steps: int) -> dict:
    """Every array of seed 002's answer, in one compiled call."""
    init_key, data_key = jax.random.split(key)
    # Step (a): initialise. Data: one batch from a fixed smooth teacher y = tanh(A x).
    params = twolayer.init(init_key, n, d, k)
    xs, teacher = rand.normals(data_key, [(n_points, n), (n, k)])
    ys = jnp.tanh(xs @ teacher)
    x, y = xs[0], ys[0]
    # Step (b) for one (x, y): every layer's output.
    out = twolayer.layers(params, x)
    # Question 4: the local Jacobians in closed form, and by jax.jacobian.
    closed = twolayer.jacobians(params, x, y)
    by_jax = {
        "dz2_dz1": jax.jacobian(twolayer.f)(out.z1),
        "dyhat_dz3": jax.jacobian(twolayer.g)(out.z3),
        "dl_dyhat": jax.jacobian(lambda yh: losses.sse(yh, y))(out.yhat)[None, :],
    }
    # Question 3: gradients by hand vs jax.grad, one example.
    manual = twolayer.grads(params, x, y)
    auto = jax.grad(twolayer.loss)(params, x, y)
    # Steps (c)-(d): one SGD step by hand vs jax.grad + optax.sgd; (e) iterate.
    trained, history = twolayer.train(params, xs, ys, lr=lr, steps=steps)
    # The sheet's worked answer for question 2 ends with 5 (W2 max(0, W1 x + b1) + b2): b2 times 5 too.
    sheet_form = SLOPE_SHEET * (trained.w2 @ jax.nn.relu(trained.w1 @ x + trained.b1) + trained.b2)
    return {"x": x, "y": y, "layers": out, "closed": closed, "by_jax": by_jax, "manual": manual, "auto": auto,
            "by_hand": twolayer.sgd_step(params, xs, ys, lr), "by_optax": twolayer.sgd_step_optax(params, xs, ys, lr),
            "history": history, "params": params, "loss": twolayer.loss(params, x, y), "trained": trained,
            "xs": xs, "ys": ys,
            "sheet_form_diff": jnp.max(jnp.abs(sheet_form - twolayer.predict(trained, x))),
            "sheet_form_expected": (SLOPE_SHEET - 1) * jnp.max(jnp.abs(trained.b2))}


def layer_table(x, out: twolayer.Layers) -> list[dict]:
    """Each layer's input and output with their shapes, for one example."""
    return [
        {"layer": "Linear_1", "input": "x", "input_shape": list(x.shape), "output": "z1 = W1 x + b1",
         "output_shape": list(out.z1.shape)},
        {"layer": "f = 5 ReLU", "input": "z1", "input_shape": list(out.z1.shape),
         "output": "z2 = 5 max(0, z1)", "output_shape": list(out.z2.shape)},
        {"layer": "Linear_2", "input": "z2", "input_shape": list(out.z2.shape),
         "output": "z3 = W2 z2 + b2", "output_shape": list(out.z3.shape)},
        {"layer": "g = identity", "input": "z3", "input_shape": list(out.z3.shape),
         "output": "yhat = z3", "output_shape": list(out.yhat.shape)},
    ]


def jacobian_summary(closed: dict, by_jax: dict) -> dict:
    """Shape, largest |closed form - jax.jacobian| and diagonality of each Jacobian, with its telling entries."""
    jacobians = {}
    for name, matrix in closed.items():
        square = matrix.shape[0] == matrix.shape[1]
        jacobians[name] = {"shape": list(matrix.shape), "max_abs_err": float(max_abs_diff(matrix, by_jax[name])),
                           "is_diagonal": bool(square and jnp.all(matrix == jnp.diag(jnp.diag(matrix))))}
    jacobians["dz2_dz1"]["diagonal_values"] = sorted({float(v) for v in jnp.diag(closed["dz2_dz1"])})
    jacobians["dz2_dz1"]["diagonal"] = jnp.diag(closed["dz2_dz1"])
    jacobians["dl_dyhat"]["elements"] = closed["dl_dyhat"][0]
    return jacobians


def seed002(key, config: dict) -> tuple[dict, dict, np.ndarray]:
    """Seed 002's metrics, its Jacobians' summary and the loss history (steps + 1,).

    SGD that diverges (a non-finite loss: too large a learning rate) is flagged: "diverged" and the first
    step with a non-finite loss; the final loss, the trained parameters and the numbers computed from them are
    null (the gradients, Jacobians and the single step do not depend on training and stay).
    """
    n, d, k = config["n"], config["hidden"], config["k"]
    arrays = seed002_arrays(key, config["lr"], n=n, d=d, k=k, n_points=config["n_points"], steps=config["steps"])
    history = np.asarray(arrays["history"])
    bad = np.flatnonzero(~np.isfinite(history))
    jacobians = jacobian_summary(arrays["closed"], arrays["by_jax"])
    dl_dz3 = arrays["closed"]["dl_dyhat"][0]
    # db2 = factor * dl/dz3: jax.grad says factor 1 (the sheet's worked answer writes dz3/db2 = 5).
    db2_factor = float(jnp.sum(arrays["auto"].b2 * dl_dz3) / jnp.sum(dl_dz3 * dl_dz3))
    result = {
        "sizes": {"n": n, "d": d, "K": k}, "layers": layer_table(arrays["x"], arrays["layers"]),
        "example": {"x": arrays["x"], "y": arrays["y"], **arrays["layers"]._asdict(), "loss": float(arrays["loss"]),
                    "params": arrays["params"]._asdict(), "grads": arrays["manual"]._asdict()},
        "sheet_form_max_abs_diff": float(arrays["sheet_form_diff"]),
        "sheet_form_expected": float(arrays["sheet_form_expected"]), "n_points": config["n_points"],
        # the batch and the trained parameters: every number above can be recomputed from them
        "batch": {"xs": arrays["xs"], "ys": arrays["ys"]}, "trained_params": arrays["trained"]._asdict(),
        "grad_max_abs_err": float(max_abs_diff(arrays["manual"], arrays["auto"])), "db2_factor": db2_factor,
        "sgd_step_max_abs_err": float(max_abs_diff(arrays["by_hand"], arrays["by_optax"])),
        "lr": config["lr"], "steps": config["steps"],
        "loss_first": float(history[0]), "loss_last": float(history[-1]),
        "diverged": bool(bad.size), "diverged_step": int(bad[0]) if bad.size else None,
    }
    if bad.size:  # numbers of the overflowed parameters are not results
        result.update(loss_last=None, trained_params=None, sheet_form_max_abs_diff=None, sheet_form_expected=None)
        cli.warn_diverged("backprop", 1, 1, f" (seed 002's SGD at lr {config['lr']:g}: the loss is not finite "
                                            f"from step {int(bad[0])})")
    return result, jacobians, history


def run(config: dict, out: Path) -> dict:
    out = Path(out)
    key = jax.random.key(config["seed"])
    grad_key, seed002_key = jax.random.split(key)
    # seed 002 first: a diverging --lr is named before the slower parts run.
    s2, jacobians, history = seed002(seed002_key, config)
    print(f"seed 002: jacobian shapes {({k: v['shape'] for k, v in jacobians.items()})}, "
          f"SGD step by hand vs optax max |diff| {s2['sgd_step_max_abs_err']:.2e}, "
          f"loss {s2['loss_first']:.4g} -> {history[-1]:.4g} in {config['steps']} steps")
    # float64 only here: manual and autodiff gradients must agree to ~1e-13, beyond float32's 1e-7.
    with jax.enable_x64(True):
        cases = grad_cases(grad_key, config["grad_cases"], config["batch"])
    for c in cases:
        print(f"I={c['I']} O={c['O']} K={c['K']} L={c['L']} {c['activation']:>7}: "
              f"max |manual - jax.grad| = {c['max_abs_err']:.2e} (relative {c['max_rel_err']:.2e})")

    rows = []
    with progress.bar(len(config["flop_grid"]), "XLA cost analysis", unit="size") as pbar:
        for size in config["flop_grid"]:
            rows.append(flop_row(*size))
            pbar.update(1)
    for r in rows:
        print(f"(I,O,K,L,B)=({r['I']},{r['O']},{r['K']},{r['L']},{r['batch']}): forward {r['forward_analytic']} "
              f"(XLA {r['forward_xla']:.0f}), backward {r['backward_analytic']} (XLA {r['backward_xla']:.0f}), "
              f"ratio {r['ratio_analytic']:.2f} (XLA {r['ratio_xla']:.2f})")

    metrics = {
        "grad_max_abs_err": max(c["max_abs_err"] for c in cases),
        "grad_max_rel_err": max(c["max_rel_err"] for c in cases),
        "grad_cases": cases,
        "flops": rows,
        "jacobians": jacobians,
        "seed002": s2,
    }
    plot(metrics, out, history=history)
    return metrics
