"""linear_models answers (seed 004 Q2-Q5, seed 002) and checks, from metrics.json; prose in report.md beside this
file."""

from __future__ import annotations

import numpy as np

from experiments.linear_models.config import AXES
from nndl import stats
from nndl.report import Answer, Check
from nndl.run import templates

TEXT = templates.beside(__file__)
AXIS_LABELS = {"batch_size": "batch size", "lr": "learning rate", "epochs": "epochs", "alpha": "alpha"}
# every part of the answer: metrics key -> (question, ids, figures, code)
PARTS = {
    "xor": ("seed 004 Q2: the least-squares linear model of XOR, by setting the gradient to 0", ["004 Q2"],
            ["xor.png"], []),
    "grid_search": ("seed 004 Q3: L2-regularised linear regression by SGD, grid search on a validation split",
                    ["004 Q3"], ["grid_search.png"], ["nndl.models.linear.ridge_value_and_grad",
                                                      "nndl.train.ridge.sgd_step"]),
    "mae": ("seed 004 Q4: MAE gradients (a) for b, (b) for w, (c) a Python function for the step on b",
            ["004 Q4(a)", "004 Q4(b)", "004 Q4(c)"], ["mae.png"],
            ["experiments.linear_models.mae.updated_b", "experiments.linear_models.mae.mae_grad"]),
    "mle": ("seed 004 Q5: proof that the MLE of the linear-Gaussian model is the least-squares w and mean squared "
            "residual", ["004 Q5"], ["mle.png"], ["experiments.linear_models.gaussian.mle"]),
    "separable_logistic": ("seed 002: logistic loss on linearly separable data has no finite minimiser",
                           ["002 logistic"], ["separable_logistic.png"], ["experiments.linear_models.max_margin.risk"]),
}


def _numbers(values, spec: str = ".4g") -> str:
    return ", ".join("diverged" if v is None else format(v, spec) for v in values)


def axis_fields(name: str, pos: dict) -> dict:
    return {**pos, "label": AXIS_LABELS[name], "rank": pos["index"] + 1, "line": _numbers(pos["line"])}


def axis_sentence(name: str, pos: dict) -> str:
    """One axis of the grid: where the optimum sits, and its neighbours' paired differences."""
    fields = axis_fields(name, pos)
    if pos["at_natural_bound"]:
        line = [v for v in pos["line"] if v is not None]
        key = "axis_natural_bound_rising" if np.all(np.diff(line) > 0) else "axis_natural_bound"
    else:
        key = "axis_" + pos["where"]
    parts = []
    for side in ("lower", "upper"):
        n = pos.get(side)
        if n is not None:
            tie = n["z"] is None or abs(n["z"]) <= stats.Z_SIGNIFICANT
            parts.append(templates.render(TEXT, "neighbour_tie" if tie else "neighbour_worse", n))
    return templates.render(TEXT, key, fields) + (" Of its neighbours, " + "; ".join(parts) + "." if parts else "")


def grid_edges(g: dict) -> list[str]:
    """Axes on which the chosen config sits on an edge that could be extended (alpha = 0 cannot)."""
    return [AXIS_LABELS[k] for k, pos in g["position"].items() if pos["where"] != "interior"
            and not pos["at_natural_bound"]]


def timing_key(g: dict) -> str:
    """The timing sentence: compile time apart when the sweep ran in several chunks (a single chunk has none)."""
    key = "timing" if g["one_call_compile_s"] is not None else "timing_single_chunk"
    return key + ("_extrapolated" if g["loop_extrapolated"] else "")


def report_fields(m: dict) -> dict:
    """The metrics plus the derived numbers the templates name (none from a part that diverged)."""
    fields = {**m, "g": m["grid_search"], "best": m["grid_search"].get("best"), "a": m["mae"],
              "s": m["separable_logistic"]}
    xor, g, a, mle, s = (m[k] for k in PARTS)
    if not _diverged(xor):
        fields.update(w0=xor["w"][0], w1=xor["w"][1], gd_w0=xor["gd"]["w"][0], gd_w1=xor["gd"]["w"][1],
                      hessian_eigenvalues=_numbers(xor["hessian_eigenvalues"], ".3g"))
    if not _diverged(g):
        fields.update(half_test=g["test_mse_unregularised"] / 2, edges=", ".join(grid_edges(g)) or "none")
    if not _diverged(a):
        fields.update(mae_err=max(a["grad_b_max_err"], a["grad_w_max_err"]), tie_share=a["n_ties"] / a["n"])
    if not _diverged(mle):
        fields.update(mle_n=mle["n"], mle_d=len(mle["w_closed"]))
    if not _diverged(s):
        lc = s["loss_vs_c"]
        fields.update(lc=lc, loss_first=lc["loss"][0], loss_last=lc["loss"][-1], c_first=lc["c"][0],
                      c_last=lc["c"][-1], n_c=len(lc["c"]), final_step=f"{s['steps'][-1]:,}",
                      angle_first=s["angles"][0], rho_changes=_numbers(s["rho_change_per_decade"], ".2f"))
    return fields


def _diverged(block: dict) -> bool:
    return bool(block.get("diverged", False))


def diverged_answer(part: str, block: dict) -> Answer:
    """A part that diverged: its question, the learning rate it diverged at, no numbers."""
    question, ids, figures, code = PARTS[part]
    lr = ", ".join(f"{v:g}" for v in np.ravel(block["lr"]))
    key = "grid_diverged" if part == "grid_search" else "part_diverged"
    return Answer(question=question, ids=ids, figures=figures, code=code,
                  text=templates.render(TEXT, key, {**block, "lr": lr}))


def _grid_answer(g: dict, f: dict) -> Answer:
    best = g["best"]
    text = " ".join([
        templates.render(TEXT, "q3_text", f),
        templates.render(TEXT, "sgd_far_from_ridge" if g["sgd_vs_ridge_w_rel_dist"] > 0.1 else "sgd_near_ridge", f),
        *(axis_sentence(k, g["position"][k]) for k in AXES),
        templates.render(TEXT, "grid_edge" if grid_edges(g) else "grid_interior", f),
        templates.render(TEXT, timing_key(g), f)])
    derivation = "\n".join([templates.render(TEXT, "q3_derivation", f),
                            templates.render(TEXT, "bug_raises" if g["worked_answer"]["raises"] else "bug_silent", f)])
    rows = [[AXIS_LABELS[k], _numbers(g["position"][k]["values"], "g"), f"{best[k]:g}",
             "at alpha = 0 (bound)" if g["position"][k]["at_natural_bound"] else g["position"][k]["where"]]
            for k in AXES]
    rows += [["validation MSE", f"{g['val_mse']:.2f}", "", ""],
             ["test MSE (unregularised)", f"{g['test_mse_unregularised']:.2f}", "", ""],
             [f"ridge closed form, alpha {g['ridge_best']['alpha']:g}: test MSE", f"{g['ridge_best']['test_mse']:.2f}",
              "", ""]]
    question, ids, figures, code = PARTS["grid_search"]
    return Answer(question=question, ids=ids, figures=figures, header=["axis", "values", "chosen", "where"],
                  table=rows, derivation=derivation, text=text, code=code)


def _templated_answer(part: str, key: str, table: list, f: dict) -> Answer:
    """The answer to PARTS[part]: `table` with the `<key>_derivation` and `<key>_text` templates filled from f."""
    question, ids, figures, code = PARTS[part]
    return Answer(question=question, ids=ids, figures=figures, table=table,
                  derivation=templates.render(TEXT, f"{key}_derivation", f),
                  text=templates.render(TEXT, f"{key}_text", f), code=code)


def _xor_answer(xor: dict, f: dict) -> Answer:
    return _templated_answer("xor", "xor", [
        ["w (normal equations)", f"({xor['w'][0]:.3g}, {xor['w'][1]:.3g})"], ["b", xor["b"]], ["J", xor["J"]],
        ["w (GD)", f"({xor['gd']['w'][0]:.3g}, {xor['gd']['w'][1]:.3g})"], ["b (GD)", xor["gd"]["b"]]], f)


def _mae_answer(a: dict, f: dict) -> Answer:
    return _templated_answer("mae", "mae", [
        ["max |grad_b hand - jax.grad|", a["grad_b_max_err"]],
        ["max |grad_w hand - jax.grad|", a["grad_w_max_err"]],
        ["|updated_b - (b - lr jax.grad)|", a["update_b_err"]],
        [f"grad_b with {a['n_ties']} ties: sheet / jnp.abs",
         f"{a['grad_b_at_ties']['sheet']:.3f} / {a['grad_b_at_ties']['jnp_abs']:.3f}"],
        ["MAE-GD (w, b)", f"({a['mae_gd']['w']:.3f}, {a['mae_gd']['b']:.3f})"],
        ["MSE-GD (w, b)", f"({a['mse_gd']['w']:.3f}, {a['mse_gd']['b']:.3f})"]], f)


def _mle_answer(mle: dict, f: dict) -> Answer:
    return _templated_answer("mle", "mle", [
        ["max |w_ascent - w_closed|", mle["w_max_err"]], ["|sigma2_ascent - sigma2_closed|", mle["sigma2_err"]],
        ["max |w_closed - w_least_squares|", mle["w_mse_max_err"]],
        ["sigma^2 (closed form)", mle["sigma2_closed"]]], f)


def _logistic_answer(s: dict, f: dict) -> Answer:
    return _templated_answer("separable_logistic", "logistic", [
        ["final ||w||", s["final_norm"]], ["d||w|| / d ln t (last decade)", s["norm_slope_per_log_t"]],
        ["||w_svm|| (the limit of the slope)", s["svm_norm"]],
        ["max over c of dL(c w_hat)/dc", s["loss_vs_c"]["dloss_dc_max"]],
        ["final angle to max-margin (deg)", s["final_angle_deg"]],
        ["GD margin / max margin", f"{s['gd_margin']:.4f} / {s['svm_margin']:.4f}"]], f)


ANSWERS = {"xor": _xor_answer, "grid_search": _grid_answer, "mae": _mae_answer,
           "mle": _mle_answer, "separable_logistic": _logistic_answer}


def report(m: dict) -> list[Answer]:
    f = report_fields(m)
    return [diverged_answer(part, m[part]) if _diverged(m[part]) else ANSWERS[part](m[part], f) for part in PARTS]


def checks(m: dict) -> list[Check]:
    """Every part's checks; a part that diverged has one failing check saying so (nothing else to measure)."""
    rows = []
    for part, part_rows in CHECKS.items():
        if _diverged(m[part]):
            rows.append((f"{PARTS[part][0].split(':')[0]}: every run finite", "finite", "diverged",
                         f"learning rate {m[part]['lr']}", False))
        else:
            rows += part_rows(m[part])
    return [Check(*row) for row in rows]


def _xor_checks(xor: dict) -> list[tuple]:
    xor_err = max(abs(xor["w"][0]), abs(xor["w"][1]), abs(xor["b"] - 0.5), abs(xor["J"] - 0.25))
    gd_err = max(abs(xor["gd"]["w"][0]), abs(xor["gd"]["w"][1]), abs(xor["gd"]["b"] - 0.5))
    return [
        ("XOR normal equations: w = 0, b = 1/2, J = 1/4", 0.0, xor_err, "1e-9 (float64 solve)", xor_err < 1e-9),
        ("XOR gradient descent: w = 0, b = 1/2", 0.0, gd_err, "1e-4 (float32 GD)", gd_err < 1e-4),
        ("XOR: jax.grad of J at (0, 0, 1/2) = 0", 0.0, xor["grad_at_solution_max_abs"], "1e-6 (float32)",
         xor["grad_at_solution_max_abs"] < 1e-6),
        ("XOR: Hessian of J positive-definite (unique minimiser)", "> 0", min(xor["hessian_eigenvalues"]), "> 0",
         min(xor["hessian_eigenvalues"]) > 0)]


def _grid_checks(g: dict) -> list[tuple]:
    values_per_axis = min(len(v) for v in g["axes"].values())
    return [
        ("grid: >= 4 values on each of the 4 axes", 4, values_per_axis, "-", values_per_axis >= 4),
        ("grid: chosen config interior on every extendable axis (alpha = 0 is a bound)", "none on an edge",
         grid_edges(g) or "none", "-", not grid_edges(g)),
        ("worked answer's np.dot(X, yhat - y) fails on n x d data (n != d)", True, g["worked_answer"]["raises"], "-",
         g["worked_answer"]["raises"] == (g["worked_answer"]["n"] != g["worked_answer"]["d"])),
        ("fixed ridge gradient X^T r / n + alpha w = jax.grad", 0.0, g["worked_answer"]["fixed_vs_autodiff_rel_err"],
         "1e-5 relative (float32)", g["worked_answer"]["fixed_vs_autodiff_rel_err"] < 1e-5),
        ("sweep config = its standalone run (validation MSE)", 0.0, g["standalone_val_mse_max_rel_err"],
         "1e-3 relative (float32 summation order)", g["standalone_val_mse_max_rel_err"] < 1e-3),
        ("configs flagged diverged also blow up standalone", True, g["standalone_diverged_too"], "-",
         g["standalone_diverged_too"]),
        ("chosen SGD model beats predicting the mean age", g["test_target_variance"], g["test_mse_unregularised"],
         "strictly lower", g["test_mse_unregularised"] < g["test_target_variance"]),
        ("chosen SGD test MSE near the validation-selected closed-form ridge's", g["ridge_best"]["test_mse"],
         g["test_mse_unregularised"], "within 25 %",
         abs(g["test_mse_unregularised"] / g["ridge_best"]["test_mse"] - 1) < 0.25)]


def _mae_checks(a: dict) -> list[tuple]:
    return [
        ("MAE grad_b (hand) = jax.grad", 0.0, a["grad_b_max_err"], "1e-5 (float32)", a["grad_b_max_err"] < 1e-5),
        ("MAE grad_w (hand) = jax.grad", 0.0, a["grad_w_max_err"], "1e-5 (float32)", a["grad_w_max_err"] < 1e-5),
        ("MAE updated_b = b - lr jax.grad (Q4c)", 0.0, a["update_b_err"], "1e-6 (float32)", a["update_b_err"] < 1e-6),
        ("MAE-GD closer to the true line than MSE-GD under outliers", a["mse_gd"]["param_err"],
         a["mae_gd"]["param_err"], "strictly closer", a["mae_gd"]["param_err"] < a["mse_gd"]["param_err"])]


def _mle_checks(mle: dict) -> list[tuple]:
    return [
        ("MLE: gradient ascent w = closed form", 0.0, mle["w_max_err"], "1e-4 (float32)", mle["w_max_err"] < 1e-4),
        ("MLE: gradient ascent sigma^2 = closed form", 0.0, mle["sigma2_err"], "1e-4 (float32)",
         mle["sigma2_err"] < 1e-4),
        ("MLE w = least-squares w", 0.0, mle["w_mse_max_err"], "1e-9 (float64)", mle["w_mse_max_err"] < 1e-9)]


def _logistic_checks(s: dict) -> list[tuple]:
    rho = np.asarray(s["rho_change_per_decade"])
    angles = np.asarray(s["angles"])
    return [
        ("separable: L(c w_hat) strictly decreasing in c", "decreasing", s["loss_vs_c"]["decreasing"], "-",
         s["loss_vs_c"]["decreasing"]),
        ("separable: dL(c w_hat)/dc < 0 at every c (jax.grad)", "< 0", s["loss_vs_c"]["dloss_dc_max"], "< 0",
         s["loss_vs_c"]["dloss_dc_max"] < 0),
        ("separable: dL/dc = -(1/n) sum m_i / (1 + exp(c m_i))", 0.0, s["loss_vs_c"]["dloss_dc_closed_form_max_err"],
         "1e-12 (float64)", s["loss_vs_c"]["dloss_dc_closed_form_max_err"] < 1e-12),
        ("separable: ||w(t)|| increasing", "increasing", float(np.min(np.diff(s["norms"]))), "> 0",
         bool(np.all(np.diff(s["norms"]) > 0))),
        ("separable: w(t) - w_svm ln t settles (its change per decade of t shrinks)", "decreasing",
         s["rho_change_per_decade"], "each decade < the one before", bool(np.all(np.diff(rho) < 0))),
        ("separable: angle to the max-margin direction shrinks", float(angles[0]), s["final_angle_deg"],
         "final < first / 2", s["final_angle_deg"] < angles[0] / 2),
    ]


CHECKS = {"xor": _xor_checks, "grid_search": _grid_checks, "mae": _mae_checks, "mle": _mle_checks,
          "separable_logistic": _logistic_checks}
