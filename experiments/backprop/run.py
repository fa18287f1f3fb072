"""MLP forward/backward pass by hand = jax.grad; FLOP counts vs XLA; seed 002's 5·ReLU net by hand.

Run: python -m experiments.backprop [--quick|--full] [--out DIR] [--seed N] [--batch 7] [--lr 0.01] [--steps 200]
Shows: seed 001 ex. 2 and seed 002 Problem 1. (a)-(b) the manual forward and
backward pass of an MLP with K hidden layers of L units (nndl.backprop) equals
jax.grad for several (I, O, K, L, psi) (grad_max_abs_err, float64); (c) the
analytic FLOP count of each pass vs XLA's compiled cost analysis over a grid
of (I, O, K, L, batch), backward/forward ~ 2 (flops.png, the `flops` table);
seed 002: each layer's input/output, the Jacobians dz2/dz1 = diag(5·1[z1>0]),
dyhat/dz3 = I, dl/dyhat = 2(yhat - y)^T with their shapes, the five training
steps run by hand, one SGD step by hand = jax.grad + optax.sgd (seed002_loss.png).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from nndl import activations, backprop, losses, opcount, rand, twolayer
from nndl.run import cli, progress, templates
from nndl.run.flags import Key, rows_parser
from nndl.models import mlp
from nndl.run.plotting import save_figure, subplots

NAME = "backprop"
SHEET = "seed 001 ex. 2; seed 002 Problem 1"

# float64 round-off (2.2e-16) grown over a few hundred multiply-adds: the manual
# and the autodiff gradient are the same arithmetic in a different order.
GRAD_RTOL = 1e-10
# XLA's count differs from the analytic one only in elementwise terms (O(B·L) of
# O(B·L²)): a few per cent on the grid, exactly 0 for the forward pass at B > 1.
FLOP_RTOL = 0.15


def get_config(full: bool = False) -> dict:
    config = {
        "seed": 0,
        "batch": 7,
        # (I, O, K, L, psi) for the gradient check
        "grad_cases": [[3, 1, 1, 4, "relu"], [5, 2, 2, 8, "tanh"], [4, 3, 3, 6, "sigmoid"],
                       [6, 4, 4, 10, "relu"]],
        # (I, O, K, L, batch) for the FLOP table
        "flop_grid": [[16, 4, 2, 32, 8], [32, 10, 3, 64, 16], [64, 10, 2, 128, 32], [128, 10, 4, 256, 64]],
        # seed 002: x in R^n, d hidden units, yhat in R^K, N points
        "n": 4, "hidden": 8, "k": 3, "n_points": 32, "lr": 0.01, "steps": 200,
    }
    if full:
        config["grad_cases"] = config["grad_cases"] + [[2, 5, 2, 3, "tanh"], [8, 6, 6, 32, "sigmoid"]]
        config["flop_grid"] = config["flop_grid"] + [
            [784, 10, 2, 512, 128], [256, 16, 8, 512, 256], [1024, 100, 4, 1024, 256]]
        config.update(steps=2000)
    return config


# Size bounds: the FLOP table builds zero arrays of every shape (K layers of L x L floats), the gradient check
# draws them; these caps keep the largest within a few GB.
FLOP_FIELDS = {"I": Key(lo=1, hi=16_384), "O": Key(lo=1, hi=16_384), "K": Key(lo=1, hi=32), "L": Key(lo=1, hi=4096),
               "B": Key(lo=1, hi=65_536)}
CASE_FIELDS = {"I": Key(lo=1, hi=1024), "O": Key(lo=1, hi=1024), "K": Key(lo=1, hi=32), "L": Key(lo=1, hi=1024),
               "psi": Key(choices=activations.NAMES)}
KEYS = {
    "batch": Key("examples in the gradient check", lo=1, hi=100_000),
    "grad_cases": Key("gradient-check nets I,O,K,L,psi;... (psi: " + ", ".join(activations.NAMES) + ")",
                      parse=rows_parser(CASE_FIELDS)),
    "flop_grid": Key("sizes I,O,K,L,B;... for the FLOP table", parse=rows_parser(FLOP_FIELDS)),
    "n": Key("inputs n of seed 002's net", lo=1, hi=10_000),
    "hidden": Key("hidden units d of seed 002's net", lo=1, hi=10_000),
    "k": Key("outputs K of seed 002's net", lo=1, hi=10_000),
    "n_points": Key("training points N of seed 002's net", lo=1, hi=1_000_000),
    "lr": Key("SGD learning rate (< 1)", positive=True),
    "steps": Key("SGD steps on seed 002's net", lo=1, hi=10_000_000),
}


def validate(config: dict) -> None:
    if config["lr"] >= 1:
        raise cli.UserError(f"--lr {config['lr']:g}: must be < 1 "
                            "(full-batch SGD on this net diverges well before that)")


# ----------------------------------------------------------------- seed 001 ex. 2
def _max_abs_diff(a, b) -> jax.Array:
    """max |a - b| over every leaf of two pytrees of the same structure."""
    return jnp.max(jnp.stack([jnp.max(jnp.abs(u - v)) for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b))]))


def _grad_errors(params, xs, ys, activation: str):
    """Manual vs jax.grad gradients of the batch-mean MSE: (max |diff|, max |jax.grad|, |loss diff|)."""
    loss, grads = backprop.loss_and_grad(params, xs, ys, activation)

    def reference_loss(p):
        preds = jax.vmap(lambda x: mlp.apply(p, x, activations.get(activation)))(xs)
        return jnp.mean(jax.vmap(losses.mse)(preds, ys))

    ref_loss, ref_grads = jax.value_and_grad(reference_loss)(params)
    scale = _max_abs_diff(ref_grads, jax.tree.map(jnp.zeros_like, ref_grads))
    return _max_abs_diff(grads, ref_grads), scale, jnp.abs(loss - ref_loss)


def _grad_cases(key, cases: list, batch: int) -> list[dict]:
    """Every gradient-check case: params W ~ N(0, 2/fan_in), b ~ N(0, 1), inputs and targets N(0, 1)."""
    all_sizes = [opcount.layer_sizes(*case[:4]) for case in cases]
    shapes = []
    for sizes in all_sizes:
        shapes += [s for a, b in zip(sizes[:-1], sizes[1:]) for s in ((a, b), (b,))]
        shapes += [(batch, sizes[0]), (batch, sizes[-1])]
    # One PRNG call for all cases: each jax.random call compiles its own kernel (seconds).
    draws = iter(rand.normals(key, shapes))
    data = [([{"w": next(draws), "b": next(draws)} for _ in sizes[:-1]], next(draws), next(draws))
            for sizes in all_sizes]
    acts = tuple(case[4] for case in cases)

    def all_cases(data):
        # He scale for the weights; one compilation for all cases (it costs far more than they run).
        return [_grad_errors([{"w": p["w"] * np.sqrt(2.0 / p["w"].shape[0]), "b": p["b"]} for p in params],
                             xs, ys, act) for (params, xs, ys), act in zip(data, acts)]

    errors = jax.jit(all_cases)(data)
    rows = []
    for case, (diff, scale, loss_err) in zip(cases, errors):
        rows.append({"I": case[0], "O": case[1], "K": case[2], "L": case[3], "activation": case[4], "batch": batch,
                     "max_abs_err": float(diff), "max_rel_err": float(diff / scale), "loss_abs_err": float(loss_err)})
    return rows


def _flop_row(n_in, n_out, n_hidden, width, batch) -> dict:
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


def _flops_figure(rows: list[dict]):
    fig, axes = subplots(1, 2, width=5.4)
    ax = axes[0, 0]
    for key, marker, label in (("forward", "o", "forward"), ("backward", "s", "backward")):
        ax.scatter([r[f"{key}_analytic"] for r in rows], [r[f"{key}_xla"] for r in rows], marker=marker,
                   label=label, zorder=3)
    lo = min(min(r["forward_analytic"], r["forward_xla"]) for r in rows)
    hi = max(max(r["backward_analytic"], r["backward_xla"]) for r in rows)
    ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="XLA = analytic")
    ax.set(xscale="log", yscale="log", xlabel="analytic FLOPs", ylabel="XLA cost_analysis FLOPs",
           title="FLOP counts: analytic vs XLA")
    ax.legend(loc="upper left")
    ax = axes[0, 1]
    x = np.arange(len(rows))
    ax.bar(x - 0.2, [r["ratio_analytic"] for r in rows], 0.4, label="analytic")
    ax.bar(x + 0.2, [r["ratio_xla"] for r in rows], 0.4, label="XLA")
    ax.axhline(2.0, color="k", ls="--", lw=1, label="2")
    ax.set_xticks(x, [f"{r['I']},{r['O']},{r['K']},{r['L']},{r['batch']}" for r in rows], rotation=20)
    ax.set(xlabel="(I, O, K, L, batch)", ylabel="backward / forward FLOPs", title="Cost of the backward pass",
           ylim=(0, 2.8))
    ax.legend(loc="upper center", ncol=3)  # one row above the bars and the line at 2
    return fig


# ------------------------------------------------------------------- seed 002
SLOPE_SHEET = 5.0  # the factor the worked answer puts in front of the whole of Linear_2
@partial(jax.jit, static_argnames=("n", "d", "k", "n_points", "steps"))
def _seed002_arrays(key, lr, *, n: int, d: int, k: int, n_points: int, steps: int) -> dict:
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


def _seed002(key, config: dict, out: Path) -> tuple[dict, dict]:
    n, d, k = config["n"], config["hidden"], config["k"]
    arrays = _seed002_arrays(key, config["lr"], n=n, d=d, k=k, n_points=config["n_points"], steps=config["steps"])
    history = np.asarray(arrays["history"])
    if not np.all(np.isfinite(history)):
        raise cli.UserError(f"--lr {config['lr']:g}: SGD diverged on seed 002's net (loss not finite); use a smaller --lr")
    x, out_layers = arrays["x"], arrays["layers"]
    layers = [
        {"layer": "Linear_1", "input": "x", "input_shape": list(x.shape), "output": "z1 = W1 x + b1",
         "output_shape": list(out_layers.z1.shape)},
        {"layer": "f = 5 ReLU", "input": "z1", "input_shape": list(out_layers.z1.shape),
         "output": "z2 = 5 max(0, z1)", "output_shape": list(out_layers.z2.shape)},
        {"layer": "Linear_2", "input": "z2", "input_shape": list(out_layers.z2.shape),
         "output": "z3 = W2 z2 + b2", "output_shape": list(out_layers.z3.shape)},
        {"layer": "g = identity", "input": "z3", "input_shape": list(out_layers.z3.shape),
         "output": "yhat = z3", "output_shape": list(out_layers.yhat.shape)},
    ]
    closed, by_jax = arrays["closed"], arrays["by_jax"]
    jacobians = {}
    for name, matrix in closed.items():
        square = matrix.shape[0] == matrix.shape[1]
        jacobians[name] = {"shape": list(matrix.shape), "max_abs_err": float(_max_abs_diff(matrix, by_jax[name])),
                           "is_diagonal": bool(square and jnp.all(matrix == jnp.diag(jnp.diag(matrix))))}
    jacobians["dz2_dz1"]["diagonal_values"] = sorted({float(v) for v in jnp.diag(closed["dz2_dz1"])})
    jacobians["dz2_dz1"]["diagonal"] = jnp.diag(closed["dz2_dz1"])
    jacobians["dl_dyhat"]["elements"] = closed["dl_dyhat"][0]
    dl_dz3 = closed["dl_dyhat"][0]
    # db2 = factor * dl/dz3: jax.grad says factor 1 (the sheet's worked answer writes dz3/db2 = 5).
    db2_factor = float(jnp.sum(arrays["auto"].b2 * dl_dz3) / jnp.sum(dl_dz3 * dl_dz3))

    fig, axes = subplots(1, 1)
    ax = axes[0, 0]
    ax.plot(np.arange(history.size), history)
    ax.set(yscale="log", xlabel="SGD step (full batch, gradient by hand)", ylabel="mean ||yhat - y||^2",
           title=f"Seed 002 net {n}->{d}->{k}, lr {config['lr']:g}")
    save_figure(fig, out / "seed002_loss.png")

    result = {
        "sizes": {"n": n, "d": d, "K": k}, "layers": layers,
        "example": {"x": x, "y": arrays["y"], **out_layers._asdict(), "loss": float(arrays["loss"]),
                    "params": arrays["params"]._asdict(), "grads": arrays["manual"]._asdict()},
        "sheet_form_max_abs_diff": float(arrays["sheet_form_diff"]),
        "sheet_form_expected": float(arrays["sheet_form_expected"]), "n_points": config["n_points"],
        # the batch and the trained parameters: every number above can be recomputed from them
        "batch": {"xs": arrays["xs"], "ys": arrays["ys"]}, "trained_params": arrays["trained"]._asdict(),
        "grad_max_abs_err": float(_max_abs_diff(arrays["manual"], arrays["auto"])), "db2_factor": db2_factor,
        "sgd_step_max_abs_err": float(_max_abs_diff(arrays["by_hand"], arrays["by_optax"])),
        "lr": config["lr"], "steps": config["steps"],
        "loss_first": float(history[0]), "loss_last": float(history[-1]),
    }
    return result, jacobians


def run(config: dict, out: Path) -> dict:
    out = Path(out)
    key = jax.random.key(config["seed"])
    grad_key, seed002_key = jax.random.split(key)
    # seed 002 first: a diverging --lr is reported before the slower parts run.
    seed002, jacobians = _seed002(seed002_key, config, out)
    print(f"seed 002: jacobian shapes {({k: v['shape'] for k, v in jacobians.items()})}, "
          f"SGD step by hand vs optax max |diff| {seed002['sgd_step_max_abs_err']:.2e}, "
          f"loss {seed002['loss_first']:.4g} -> {seed002['loss_last']:.4g} in {config['steps']} steps")
    # float64 only here: manual and autodiff gradients must agree to ~1e-13, beyond float32's 1e-7.
    with jax.enable_x64(True):
        cases = _grad_cases(grad_key, config["grad_cases"], config["batch"])
    for c in cases:
        print(f"I={c['I']} O={c['O']} K={c['K']} L={c['L']} {c['activation']:>7}: "
              f"max |manual - jax.grad| = {c['max_abs_err']:.2e} (relative {c['max_rel_err']:.2e})")

    rows = []
    with progress.bar(len(config["flop_grid"]), "XLA cost analysis", unit="size") as pbar:
        for size in config["flop_grid"]:
            rows.append(_flop_row(*size))
            pbar.update(1)
    for r in rows:
        print(f"(I,O,K,L,B)=({r['I']},{r['O']},{r['K']},{r['L']},{r['batch']}): forward {r['forward_analytic']} "
              f"(XLA {r['forward_xla']:.0f}), backward {r['backward_analytic']} (XLA {r['backward_xla']:.0f}), "
              f"ratio {r['ratio_analytic']:.2f} (XLA {r['ratio_xla']:.2f})")
    save_figure(_flops_figure(rows), out / "flops.png")

    return {
        "grad_max_abs_err": max(c["max_abs_err"] for c in cases),
        "grad_max_rel_err": max(c["max_rel_err"] for c in cases),
        "grad_cases": cases,
        "flops": rows,
        "jacobians": jacobians,
        "seed002": seed002,
    }


def _size(row: dict) -> str:
    return f"({row['I']}, {row['O']}, {row['K']}, {row['L']}, {row['batch']})"


def _rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


TEXT = templates.beside(__file__)
# What a student writes for each question.
CODE = {
    "forward": ["nndl.backprop.forward"],
    "backward": ["nndl.backprop.backward", "nndl.backprop.batch_backward"],
    "ops": ["nndl.opcount.forward_flops", "nndl.opcount.backward_flops", "nndl.opcount.big_o",
            "nndl.opcount.xla_forward_backward"],
    "steps": ["nndl.twolayer.init", "nndl.twolayer.batch_grads", "nndl.twolayer.sgd_step", "nndl.twolayer.train"],
    "layers": ["nndl.twolayer.layers"],
    "grads": ["nndl.twolayer.grads"],
    "jacobians": ["nndl.twolayer.jacobians"],
}
JACOBIAN_TOL = 1e-6  # float32: the closed forms and jax.jacobian are the same few operations
SEED002_GRAD_TOL = 1e-5  # float32 gradients of size ~10: a few ulps
LOSS_TOL = 1e-12  # float64 losses of size ~1 from the same products in another order


def vector(values, spec: str = ".4g") -> str:
    """(v1, v2, ...) with each entry formatted by `spec`."""
    return "(" + ", ".join(format(float(v), spec) for v in values) + ")"


def largest(rows: list[dict]) -> dict:
    return max(rows, key=lambda r: r["forward_analytic"])


def report_fields(metrics: dict) -> dict:
    """The metrics plus the short names and derived numbers the templates use."""
    cases, rows, jac, s2 = metrics["grad_cases"], metrics["flops"], metrics["jacobians"], metrics["seed002"]
    ex, big = s2["example"], largest(rows)
    batched = [r for r in rows if r["batch"] > 1]
    by_width = sorted(rows, key=lambda r: (r["L"], r["forward_analytic"]))
    return {
        **metrics, "s2": s2, "big": big, "grad_rtol": GRAD_RTOL,
        "n_cases": len(cases), "loss_err": max(c["loss_abs_err"] for c in cases),
        "activations": ", ".join(sorted({c["activation"] for c in cases})),
        "batch": cases[0]["batch"],
        "big_forward_leading": 2 * big["forward_bigO_madds"], "big_backward_leading": 2 * big["backward_bigO_madds"],
        "big_leading_ratio": big["backward_bigO_madds"] / big["forward_bigO_madds"],
        "n_sizes": len(rows), "n_exact": sum(r["forward_xla"] == r["forward_analytic"] for r in rows),
        "bwd_gap_min": min(_rel(r["backward_xla"], r["backward_analytic"]) for r in rows),
        "bwd_gap_max": max(_rel(r["backward_xla"], r["backward_analytic"]) for r in rows),
        "model_gap": max((_rel(r["backward_autodiff_model"], r["backward_xla"]) for r in batched), default=None),
        "ratio_small": by_width[0]["ratio_xla"], "l_small": by_width[0]["L"],
        "ratio_large": by_width[-1]["ratio_xla"], "l_large": by_width[-1]["L"],
        "vec": {"z1": vector(ex["z1"]), "z2": vector(ex["z2"]), "yhat": vector(ex["yhat"]), "y": vector(ex["y"]),
                "db2": vector(ex["grads"]["b2"]), "db1": vector(ex["grads"]["b1"]),
                "dz2_dz1_diagonal": vector(jac["dz2_dz1"]["diagonal"], "g"),
                "dl_dyhat": vector(jac["dl_dyhat"]["elements"])},
        "jac_err": max(v["max_abs_err"] for v in jac.values()),
        "shapes": ", ".join(f"{k.replace('_', '/', 1).replace('_', '')} {' x '.join(map(str, v['shape']))}"
                            for k, v in jac.items()),
    }


def _ops_text(f: dict) -> str:
    rows = f["flops"]
    forward = "forward_all_equal" if f["n_exact"] == len(rows) else "forward_some_differ"
    if f["model_gap"] is None:
        model = "model_none"
    else:
        model = "model_matches" if f["model_gap"] <= 0.01 else "model_off"
    if len({r["L"] for r in rows}) < 2:
        ratio = "ratio_single"
    else:
        ratio = "ratio_grows" if f["ratio_large"] > f["ratio_small"] else "ratio_flat"
    one = len(rows) == 1
    sentences = {k: templates.render(TEXT, v, f) for k, v in
                 (("forward_sentence", forward), ("model_sentence", model), ("ratio_sentence", ratio),
                  ("sizes_phrase", "sizes_one" if one else "sizes_many"),
                  ("gap_phrase", "gap_one" if one else "gap_range"))}
    return templates.render(TEXT, "ops_text", {**f, **sentences})


def report(metrics: dict) -> list[dict]:
    rows, jac, s2 = metrics["flops"], metrics["jacobians"], metrics["seed002"]
    f = report_fields(metrics)
    grads_ok = metrics["grad_max_rel_err"] <= GRAD_RTOL
    db2 = templates.render(TEXT, "db2_identity" if abs(s2["db2_factor"] - 1) <= SEED002_GRAD_TOL
                           else "db2_not_identity", f)
    seed002_ok = s2["grad_max_abs_err"] <= SEED002_GRAD_TOL
    shapes = {k: " x ".join(map(str, v["shape"])) for k, v in jac.items()}
    return [
        {"question": "seed 001 ex. 2(a): the forward pass for one x, the intermediate variables and their sizes",
         "ids": ["001 M2(a)"], "figures": [],
         "table": [["quantity", "shape"], ["x = h_0", "(I,)"], ["W_1, b_1", "(L, I), (L,)"],
                   ["W_k, b_k (k = 2..K)", "(L, L), (L,)"], ["a_k, h_k (k = 1..K)", "(L,)"],
                   ["W_{K+1}, b_{K+1}", "(O, L), (O,)"], ["yhat = a_{K+1}, e", "(O,)"], ["J", "()"]],
         "derivation": templates.render(TEXT, "forward_derivation", f),
         "text": templates.render(TEXT, "loss_agree" if f["loss_err"] <= LOSS_TOL else "loss_disagree", f),
         "code": CODE["forward"]},
        {"question": "seed 001 ex. 2(b): the backward pass for one example with e = yhat - y, and its source",
         "ids": ["001 M2(b)"], "figures": [],
         "table": [["I", "O", "K", "L", "psi", "max |manual - jax.grad|", "relative"]]
         + [[c["I"], c["O"], c["K"], c["L"], c["activation"], c["max_abs_err"], c["max_rel_err"]]
            for c in metrics["grad_cases"]],
         "derivation": templates.render(TEXT, "backward_derivation", f),
         "text": templates.render(TEXT, "grad_agree" if grads_ok else "grad_disagree", f), "code": CODE["backward"]},
        {"question": "seed 001 ex. 2(c): number of operations of the forward and the backward pass",
         "ids": ["001 M2(c)"], "figures": ["flops.png"],
         "table": [["(I, O, K, L, B)", "forward", "forward XLA", "backward", "backward XLA", "bwd/fwd",
                    "bwd/fwd XLA", "sheet's forward", "sheet's backward"]]
         + [[_size(r), r["forward_analytic"], round(r["forward_xla"]), r["backward_analytic"],
             round(r["backward_xla"]), round(r["ratio_analytic"], 3), round(r["ratio_xla"], 3),
             r["forward_bigO"], r["backward_bigO"]] for r in rows],
         "derivation": templates.render(TEXT, "ops_derivation", f), "text": _ops_text(f), "code": CODE["ops"]},
        {"question": "seed 002 Problem 1.1: the five programming steps of training with SGD on one batch",
         "ids": ["002 P1.1"], "figures": ["seed002_loss.png"], "table": [],
         "derivation": templates.render(TEXT, "steps_derivation", f),
         "text": templates.render(TEXT, "steps_text_falls" if s2["loss_last"] < s2["loss_first"]
                                  else "steps_text_rises", f), "code": CODE["steps"]},
        {"question": "seed 002 Problem 1.2: inputs and outputs of each layer for one (x, y)",
         "ids": ["002 P1.2"], "figures": [],
         "table": [["layer", "input", "input shape", "output", "output shape"]]
         + [[r["layer"], r["input"], str(tuple(r["input_shape"])), r["output"], str(tuple(r["output_shape"]))]
            for r in s2["layers"]],
         "derivation": templates.render(TEXT, "layers_derivation", f), "text": "", "code": CODE["layers"]},
        {"question": "seed 002 Problem 1.3: the gradients of the backward pass", "ids": ["002 P1.3"], "figures": [],
         "table": [], "derivation": templates.render(TEXT, "grads_derivation", f),
         "text": templates.render(TEXT, "grads_agree" if seed002_ok else "grads_disagree", {**f, "db2_sentence": db2}),
         "code": CODE["grads"]},
        {"question": "seed 002 Problem 1.4: the elements of dz2/dz1, dyhat/dz3 and dl/dyhat, with their dimensions",
         "ids": ["002 P1.4"], "figures": [],
         "table": [["Jacobian", "shape", "closed form", "max |closed form - jax.jacobian|"],
                   ["dz2/dz1", shapes["dz2_dz1"], "diag(5 * 1[z1 > 0])", jac["dz2_dz1"]["max_abs_err"]],
                   ["dyhat/dz3", shapes["dyhat_dz3"], "identity I_K", jac["dyhat_dz3"]["max_abs_err"]],
                   ["dl/dyhat", shapes["dl_dyhat"], "2 (yhat - y)^T", jac["dl_dyhat"]["max_abs_err"]]],
         "derivation": templates.render(TEXT, "jacobians_derivation", f),
         "text": templates.render(TEXT, "jacobians_agree" if f["jac_err"] <= JACOBIAN_TOL else "jacobians_disagree", f),
         "code": CODE["jacobians"]},
    ]


def checks(metrics: dict) -> list[dict]:
    s2 = metrics["seed002"]
    results = [{"check": "manual backward pass = jax.grad (all cases)", "reference": 0.0,
                "measured": metrics["grad_max_rel_err"], "tolerance": f"relative {GRAD_RTOL:g} (float64 round-off)",
                "passed": metrics["grad_max_rel_err"] <= GRAD_RTOL}]
    for r in metrics["flops"]:
        for key in ("forward", "backward"):
            gap = _rel(r[f"{key}_xla"], r[f"{key}_analytic"])
            results.append({"check": f"{key} FLOPs {_size(r)}: XLA ~ analytic", "reference": r[f"{key}_analytic"],
                            "measured": r[f"{key}_xla"], "tolerance": f"relative {FLOP_RTOL:g} (elementwise terms)",
                            "passed": gap <= FLOP_RTOL})
    for r in metrics["flops"]:
        # leading order: (IL + 2(K-1)L^2 + 2LO) / (IL + (K-1)L^2 + LO), i.e. 2 minus the first layer's share
        leading = r["backward_bigO_madds"] / r["forward_bigO_madds"]
        results.append({"check": f"backward/forward {_size(r)} = leading-order ratio", "reference": leading,
                        "measured": r["ratio_xla"], "tolerance": f"relative {FLOP_RTOL:g} (elementwise terms)",
                        "passed": abs(r["ratio_xla"] - leading) <= FLOP_RTOL * leading})
    for name, entry in metrics["jacobians"].items():
        results.append({"check": f"{name} closed form = jax.jacobian", "reference": 0.0,
                        "measured": entry["max_abs_err"], "tolerance": f"{JACOBIAN_TOL:g} (float32)",
                        "passed": entry["max_abs_err"] <= JACOBIAN_TOL})
    results += [
        {"check": "seed 002 gradient by hand = jax.grad", "reference": 0.0, "measured": s2["grad_max_abs_err"],
         "tolerance": f"{SEED002_GRAD_TOL:g} (float32)", "passed": s2["grad_max_abs_err"] <= SEED002_GRAD_TOL},
        {"check": "db2 = 1 x dl/dz3 (not 5)", "reference": 1.0, "measured": s2["db2_factor"],
         "tolerance": f"{SEED002_GRAD_TOL:g} (float32)", "passed": abs(s2["db2_factor"] - 1.0) <= SEED002_GRAD_TOL},
        {"check": "one SGD step by hand = jax.grad + optax.sgd", "reference": 0.0,
         "measured": s2["sgd_step_max_abs_err"], "tolerance": f"{SEED002_GRAD_TOL:g} (float32)",
         "passed": s2["sgd_step_max_abs_err"] <= SEED002_GRAD_TOL},
        {"check": "sheet's 5 (W2 z + b2) - yhat = 4 max|b2| (trained)", "reference": s2["sheet_form_expected"],
         "measured": s2["sheet_form_max_abs_diff"], "tolerance": "1e-5 absolute + 1e-4 relative (float32)",
         "passed": abs(s2["sheet_form_max_abs_diff"] - s2["sheet_form_expected"])
         <= 1e-5 + 1e-4 * s2["sheet_form_expected"]},
        {"check": "manual forward loss = plain JAX loss (all cases)", "reference": 0.0,
         "measured": max(c["loss_abs_err"] for c in metrics["grad_cases"]), "tolerance": f"{LOSS_TOL:g} (float64)",
         "passed": max(c["loss_abs_err"] for c in metrics["grad_cases"]) <= LOSS_TOL},
        {"check": "SGD lowers the loss", "reference": s2["loss_first"], "measured": s2["loss_last"],
         "tolerance": "strictly lower", "passed": s2["loss_last"] < s2["loss_first"]},
    ]
    return results


def main(argv=None) -> int:
    return cli.run_experiment(NAME, doc=__doc__, get_config=get_config, run=run,
                              keys=KEYS, validate=validate, argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
