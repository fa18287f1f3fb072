"""backprop answers (seed 001 ex. 2, seed 002 Problem 1) and checks, from metrics.json; prose in report.md beside it."""

from __future__ import annotations

from nndl.report import Answer, Check
from nndl.run import templates

TEXT = templates.beside(__file__)
# What a student writes for each question.
CODE = {
    "forward": ["experiments.backprop.passes.forward"],
    "backward": ["experiments.backprop.passes.backward", "experiments.backprop.passes.batch_backward"],
    "ops": ["experiments.backprop.opcount.forward_flops", "experiments.backprop.opcount.backward_flops",
            "experiments.backprop.opcount.big_o", "experiments.backprop.opcount.xla_forward_backward"],
    "steps": ["experiments.backprop.twolayer.init", "experiments.backprop.twolayer.batch_grads",
              "experiments.backprop.twolayer.sgd_step", "experiments.backprop.twolayer.train"],
    "layers": ["experiments.backprop.twolayer.layers"],
    "grads": ["experiments.backprop.twolayer.grads"],
    "jacobians": ["experiments.backprop.twolayer.jacobians"],
}
# float64 round-off (2.2e-16) grown over a few hundred multiply-adds: the manual
# and the autodiff gradient are the same arithmetic in a different order.
GRAD_RTOL = 1e-10
# XLA's count differs from the analytic one only in elementwise terms (O(B·L) of
# O(B·L²)): a few per cent on the grid, exactly 0 for the forward pass at B > 1.
FLOP_RTOL = 0.15
JACOBIAN_TOL = 1e-6  # float32: the closed forms and jax.jacobian are the same few operations
SEED002_GRAD_TOL = 1e-5  # float32 gradients of size ~10: a few ulps
LOSS_TOL = 1e-12  # float64 losses of size ~1 from the same products in another order


def _size(row: dict) -> str:
    return f"({row['I']}, {row['O']}, {row['K']}, {row['L']}, {row['batch']})"


def _rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


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
    model = ("model_none" if f["model_gap"] is None
             else "model_matches" if f["model_gap"] <= 0.01 else "model_off")
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


def report(metrics: dict) -> list[Answer]:
    rows, jac, s2 = metrics["flops"], metrics["jacobians"], metrics["seed002"]
    f = report_fields(metrics)
    grads_ok = metrics["grad_max_rel_err"] <= GRAD_RTOL
    db2 = templates.render(TEXT, "db2_identity" if abs(s2["db2_factor"] - 1) <= SEED002_GRAD_TOL
                           else "db2_not_identity", f)
    seed002_ok = s2["grad_max_abs_err"] <= SEED002_GRAD_TOL
    shapes = {k: " x ".join(map(str, v["shape"])) for k, v in jac.items()}
    return [
        Answer(question="seed 001 ex. 2(a): the forward pass for one x, the intermediate variables and their sizes",
               ids=["001 M2(a)"], header=["quantity", "shape"],
               table=[["x = h_0", "(I,)"], ["W_1, b_1", "(L, I), (L,)"], ["W_k, b_k (k = 2..K)", "(L, L), (L,)"],
                      ["a_k, h_k (k = 1..K)", "(L,)"], ["W_{K+1}, b_{K+1}", "(O, L), (O,)"],
                      ["yhat = a_{K+1}, e", "(O,)"], ["J", "()"]],
               derivation=templates.render(TEXT, "forward_derivation", f),
               text=templates.render(TEXT, "loss_agree" if f["loss_err"] <= LOSS_TOL else "loss_disagree", f),
               code=CODE["forward"]),
        Answer(question="seed 001 ex. 2(b): the backward pass for one example with e = yhat - y, and its source",
               ids=["001 M2(b)"], header=["I", "O", "K", "L", "psi", "max |manual - jax.grad|", "relative"],
               table=[[c["I"], c["O"], c["K"], c["L"], c["activation"], c["max_abs_err"], c["max_rel_err"]]
                      for c in metrics["grad_cases"]],
               derivation=templates.render(TEXT, "backward_derivation", f),
               text=templates.render(TEXT, "grad_agree" if grads_ok else "grad_disagree", f), code=CODE["backward"]),
        Answer(question="seed 001 ex. 2(c): number of operations of the forward and the backward pass",
               ids=["001 M2(c)"], figures=["flops.png"],
               header=["(I, O, K, L, B)", "forward", "forward XLA", "backward", "backward XLA", "bwd/fwd",
                       "bwd/fwd XLA", "sheet's forward", "sheet's backward"],
               table=[[_size(r), r["forward_analytic"], round(r["forward_xla"]), r["backward_analytic"],
                       round(r["backward_xla"]), round(r["ratio_analytic"], 3), round(r["ratio_xla"], 3),
                       r["forward_bigO"], r["backward_bigO"]] for r in rows],
               derivation=templates.render(TEXT, "ops_derivation", f), text=_ops_text(f), code=CODE["ops"]),
        Answer(question="seed 002 Problem 1.1: the five programming steps of training with SGD on one batch",
               ids=["002 P1.1"], figures=["seed002_loss.png"],
               derivation=templates.render(TEXT, "steps_derivation", f),
               text=templates.render(TEXT, "steps_text_diverged" if s2.get("diverged") else "steps_text_falls"
                                     if s2["loss_last"] < s2["loss_first"] else "steps_text_rises", f),
               code=CODE["steps"]),
        Answer(question="seed 002 Problem 1.2: inputs and outputs of each layer for one (x, y)", ids=["002 P1.2"],
               header=["layer", "input", "input shape", "output", "output shape"],
               table=[[r["layer"], r["input"], str(tuple(r["input_shape"])), r["output"],
                       str(tuple(r["output_shape"]))] for r in s2["layers"]],
               derivation=templates.render(TEXT, "layers_derivation", f), code=CODE["layers"]),
        Answer(question="seed 002 Problem 1.3: the gradients of the backward pass", ids=["002 P1.3"],
               derivation=templates.render(TEXT, "grads_derivation", f),
               text=templates.render(TEXT, "grads_agree" if seed002_ok else "grads_disagree",
                                     {**f, "db2_sentence": db2}),
               code=CODE["grads"]),
        Answer(question="seed 002 Problem 1.4: the elements of dz2/dz1, dyhat/dz3 and dl/dyhat, with their "
                        "dimensions", ids=["002 P1.4"],
               header=["Jacobian", "shape", "closed form", "max |closed form - jax.jacobian|"],
               table=[["dz2/dz1", shapes["dz2_dz1"], "diag(5 * 1[z1 > 0])", jac["dz2_dz1"]["max_abs_err"]],
                      ["dyhat/dz3", shapes["dyhat_dz3"], "identity I_K", jac["dyhat_dz3"]["max_abs_err"]],
                      ["dl/dyhat", shapes["dl_dyhat"], "2 (yhat - y)^T", jac["dl_dyhat"]["max_abs_err"]]],
               derivation=templates.render(TEXT, "jacobians_derivation", f),
               text=templates.render(TEXT, "jacobians_agree" if f["jac_err"] <= JACOBIAN_TOL
                                     else "jacobians_disagree", f),
               code=CODE["jacobians"]),
    ]


def checks(metrics: dict) -> list[Check]:
    s2 = metrics["seed002"]
    results = [Check("manual backward pass = jax.grad (all cases)", 0.0, metrics["grad_max_rel_err"],
                     f"relative {GRAD_RTOL:g} (float64 round-off)", metrics["grad_max_rel_err"] <= GRAD_RTOL)]
    for r in metrics["flops"]:
        for key in ("forward", "backward"):
            gap = _rel(r[f"{key}_xla"], r[f"{key}_analytic"])
            results.append(Check(f"{key} FLOPs {_size(r)}: XLA ~ analytic", r[f"{key}_analytic"], r[f"{key}_xla"],
                                 f"relative {FLOP_RTOL:g} (elementwise terms)", gap <= FLOP_RTOL))
    for r in metrics["flops"]:
        # leading order: (IL + 2(K-1)L^2 + 2LO) / (IL + (K-1)L^2 + LO), i.e. 2 minus the first layer's share
        leading = r["backward_bigO_madds"] / r["forward_bigO_madds"]
        results.append(Check(f"backward/forward {_size(r)} = leading-order ratio", leading, r["ratio_xla"],
                             f"relative {FLOP_RTOL:g} (elementwise terms)",
                             abs(r["ratio_xla"] - leading) <= FLOP_RTOL * leading))
    for name, entry in metrics["jacobians"].items():
        results.append(Check(f"{name} closed form = jax.jacobian", 0.0, entry["max_abs_err"],
                             f"{JACOBIAN_TOL:g} (float32)", entry["max_abs_err"] <= JACOBIAN_TOL))
    loss_err = max(c["loss_abs_err"] for c in metrics["grad_cases"])
    results += [
        Check("seed 002 gradient by hand = jax.grad", 0.0, s2["grad_max_abs_err"], f"{SEED002_GRAD_TOL:g} (float32)",
              s2["grad_max_abs_err"] <= SEED002_GRAD_TOL),
        Check("db2 = 1 x dl/dz3 (not 5)", 1.0, s2["db2_factor"], f"{SEED002_GRAD_TOL:g} (float32)",
              abs(s2["db2_factor"] - 1.0) <= SEED002_GRAD_TOL),
        Check("one SGD step by hand = jax.grad + optax.sgd", 0.0, s2["sgd_step_max_abs_err"],
              f"{SEED002_GRAD_TOL:g} (float32)", s2["sgd_step_max_abs_err"] <= SEED002_GRAD_TOL),
        Check("sheet's 5 (W2 z + b2) - yhat = 4 max|b2| (trained)", s2["sheet_form_expected"],
              s2["sheet_form_max_abs_diff"], "diverged: no trained net" if s2.get("diverged") else
              "1e-5 absolute + 1e-4 relative (float32)",
              not s2.get("diverged") and abs(s2["sheet_form_max_abs_diff"] - s2["sheet_form_expected"])
              <= 1e-5 + 1e-4 * s2["sheet_form_expected"]),
        Check("manual forward loss = plain JAX loss (all cases)", 0.0, loss_err, f"{LOSS_TOL:g} (float64)",
              loss_err <= LOSS_TOL),
        Check("SGD lowers the loss", s2["loss_first"], s2["loss_last"],
              "diverged" if s2.get("diverged") else "strictly lower",
              not s2.get("diverged") and s2["loss_last"] < s2["loss_first"]),
    ]
    return results
