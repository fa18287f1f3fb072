"""implicit_reg answers (seed 001 CA2) and checks, from metrics.json; prose in report.md beside this file."""

from __future__ import annotations

import math

import numpy as np

from experiments.implicit_reg.summary import MIN_CONVERGED
from nndl import stats
from nndl.report import Answer, Check
from nndl.run import templates

TEXT = templates.beside(__file__)


def _f(value) -> float:
    return math.nan if value is None else float(value)


def _pm(value, se) -> str:
    if value is None or not np.isfinite(value):
        return "n/a"
    return f"{value:.3g} ± {se:.2g}" if se is not None and np.isfinite(se) else f"{value:.3g}"


def report_fields(m: dict) -> dict:
    terms = [_f(v) for lr, v in zip(m["lrs"], m["implicit_regulariser"]) if lr in m["kept_lrs"]]
    fields = {**m, "t": m["trend"], "wd": m["weight_decay"], "term_lo": min(terms, default=math.nan),
              "term_hi": max(terms, default=math.nan)}
    fields.update(term_lo_pct=100 * fields["term_lo"] / m["stop_loss"],
                  term_hi_pct=100 * fields["term_hi"] / m["stop_loss"])
    return fields


def trend_sentences(m: dict, fields: dict) -> list[str]:
    """(c): the variance's slope in μ, the paired test change and the correlation, each worded by its uncertainty."""
    t = m["trend"]
    if len(m["kept_lrs"]) < 2:
        return [templates.render(TEXT, "trend_none", fields)]
    z = _f(t["var_slope"]) / _f(t["var_slope_se"]) if _f(t["var_slope_se"]) > 0 else math.nan
    out = [templates.render(TEXT, "slope_down" if z < -2 else "slope_up" if z > 2 else "slope_flat",
                            {**fields, "z": z})]
    tc = t["test_change"]
    key = {stats.LOWER: "test_down", stats.HIGHER: "test_up", stats.TIE: "test_flat"}.get(tc["verdict"])
    if key is not None:  # NOT_COMPARABLE (no finite pair): no sentence about the change
        out.append(templates.render(TEXT, key, {**fields, "tc": {**tc, "size": abs(_f(tc["difference"]))}}))
    lo, hi = _f(t["corr_low"]), _f(t["corr_high"])
    out.append(templates.render(TEXT, "corr_pos" if lo > 0 else "corr_neg" if hi < 0 else "corr_none", fields))
    return out


def weight_decay_text(m: dict, fields: dict) -> str:
    """(d): the validated choice, whether the grid brackets it, and the paired comparison with implicit-only."""
    wd = m["weight_decay"]
    best, bi, comp = wd["best"], wd["best_implicit"], wd["comparison"]
    if best is None:
        return templates.render(TEXT, "wd_none", fields)
    parts = [templates.render(TEXT, "wd_choice", {**fields, "best": best}),
             templates.render(TEXT, "wd_interior" if wd["interior"] else "wd_edge", {**fields, "best": best})]
    key = None if comp is None else {stats.LOWER: "wd_beats", stats.HIGHER: "wd_worse",
                                     stats.TIE: "wd_tie"}.get(comp["verdict"])  # NOT_COMPARABLE: no sentence
    if bi is not None and key is not None:
        parts.append(templates.render(TEXT, key, {**fields, "best": best, "bi": bi,
                                                  "comp": {**comp, "size": abs(_f(comp["difference"]))}}))
    return " ".join(parts)


def report(m: dict) -> list[Answer]:
    lrs, best, bi = m["lrs"], m["weight_decay"]["best"], m["weight_decay"]["best_implicit"]
    fields = report_fields(m)
    conv_rows = [[f"μ = {lr:g}: converged, epochs to {m['stop_loss']:g}",
                  f"{c:.0%}, " + (f"{e:.0f} ± {_f(se):.0f}" if e is not None else "-")]
                 for lr, c, e, se in zip(lrs, m["converged_fraction"], m["epochs_to_converge"],
                                         m["epochs_to_converge_se"])]
    excluded = " ".join(templates.render(TEXT, "excluded_diverged" if e["reason"] == "diverged" else "excluded", e)
                        for e in m["excluded_lrs"])
    b_text = templates.render(TEXT, "convergence_all" if not m["excluded_lrs"] else "convergence_some", fields)
    rows = [[f"μ = {lr:g}" + ("" if lr in m["kept_lrs"] else " (excluded)"),
             f"‖∇J‖² {_pm(g, gs)}, var {_pm(v, vs)}, test {_pm(te, tes)}, (μ/4)·mean‖∇J_k‖² {_pm(r, rs)}"]
            for lr, g, gs, v, vs, te, tes, r, rs in zip(
                lrs, m["grad_norm_sq"], m["grad_norm_sq_se"], m["minibatch_grad_var"], m["minibatch_grad_var_se"],
                m["test_loss"], m["test_loss_se"], m["implicit_regulariser"], m["implicit_regulariser_se"])]
    return [
        Answer(question="(a)/(b) SGD with constant μ to MSE < 1e-5: convergence for every μ (M, B, layers used)",
               ids=["001 CA2(a)", "001 CA2(b)"], figures=["convergence.png"],
               table=[["M, B, hidden layers, N", f"{m['width']}, {m['batch_size']}, {m['depth']}, {m['n_train']}"]]
               + conv_rows,
               text=(b_text + " " + excluded).strip(), code=["nndl.train.mlp.train_epoch"]),
        Answer(question="(c) the gradient statistics; μ vs the final gradient norms; test error vs both; explanation",
               ids=["001 CA2(c.1)", "001 CA2(c.2)", "001 CA2(c.3)", "001 CA2(c.4)"],
               derivation=templates.render(TEXT, "smith_derivation", fields),
               figures=["gradient_norms.png"], table=rows,
               text=templates.render(TEXT, "measures_text", fields) + " " + " ".join(trend_sentences(m, fields)),
               code=["nndl.train.gradnoise.gradient_noise"]),
        Answer(question="(d) explicit weight decay: can it beat the best implicit-only test loss?", ids=["001 CA2(d)"],
               figures=["weight_decay.png"],
               table=[["chosen on validation (μ, λ)", f"{best['lr']:g}, {best['weight_decay']:g}" if best else "-"],
                      ["its train / val / test MSE",
                       (f"{_f(best['train_loss']):.2g} / {_pm(best['val_loss'], best['val_loss_se'])} / "
                        f"{_pm(best['test_loss'], best['test_loss_se'])}") if best else "-"],
                      ["implicit only, chosen on validation",
                       f"μ = {bi['lr']:g}: test {_pm(bi['test_loss'], bi['test_loss_se'])}" if bi else "-"]],
               text=weight_decay_text(m, fields), code=["experiments.implicit_reg.summary.weight_decay_summary"]),
    ]


def checks(m: dict) -> list[Check]:
    norms = np.asarray(m["minibatch_grad_var"] + m["grad_norm_sq"], float)
    lowest = float(np.nanmin(norms)) if np.isfinite(norms).any() else None  # None: no converged run to measure
    out = [Check("minibatch variance >= 0 and ||∇J||² >= 0 (converged runs)", reference=0,
                 measured=lowest, tolerance="exact (sums of squares)", passed=lowest is not None and lowest >= 0)]
    # the stop rule reads the epoch's mean minibatch loss; the full-data MSE at the stopped parameters must
    # be of the same size (a wrong stop or a wrong evaluation would differ by orders of magnitude)
    trains = [_f(v) for lr, v in zip(m["lrs"], m["final_train_loss"]) if lr in m["kept_lrs"]]
    if trains:
        out.append(Check("full-data train MSE at the stop point vs the target", reference=m["stop_loss"],
                         measured=max(trains), tolerance="factor 3", passed=max(trains) <= 3 * m["stop_loss"]))
    kept_fractions = [c for lr, c in zip(m["lrs"], m["converged_fraction"]) if lr in m["kept_lrs"]]
    out.append(Check("every kept μ converged in >= half its runs", reference=MIN_CONVERGED,
                     measured=float(min(kept_fractions, default=math.nan)), tolerance="fraction",
                     passed=all(c >= MIN_CONVERGED for c in kept_fractions)))
    return out
