"""double_descent answers (seed 001 CA1) and checks, from metrics.json; prose in report.md beside this file."""

from __future__ import annotations

import math

import numpy as np

from experiments.double_descent.interpolation import n_params
from nndl import stats
from nndl.data import teacher
from nndl.report import Answer, Check
from nndl.run import templates

TEXT = templates.beside(__file__)


def _word(c_verdict: str) -> str:
    return {stats.HIGHER: "hurts", stats.LOWER: "helps", stats.TIE: "tie", stats.NOT_COMPARABLE: "none"}[c_verdict]


def _f(value) -> float:
    """A metrics.json number as a float (null -> NaN)."""
    return math.nan if value is None else float(value)


def _pm(value, se) -> str:
    if value is None or not np.isfinite(value):
        return "n/a"
    return f"{value:.3g} ± {se:.2g}" if se is not None and np.isfinite(se) else f"{value:.3g}"


def peak_key(m: dict) -> str:
    """Whether the widest net's test MSE is significantly below the peak's: a second descent."""
    c = stats.compare(_f(m["peak_test_loss"]), _f(m["peak_test_loss_se"]), _f(m["test_loss_at_max_width"]),
                      _f(m["test_loss_at_max_width_se"]))
    return "peak_descent" if c.verdict == "lower" else "peak_no_descent"


def budget_moves(by_budget: dict) -> bool:
    """Whether the measured threshold depends on the training budget (differs between budgets)."""
    return len(set(by_budget.values())) > 1


def speed_sentence(to_tol: dict) -> str:
    """Is training larger models faster in epochs? From the widths' epochs to 1e-3 and their uncertainty."""
    items = [(int(w), v) for w, v in to_tol.items()]
    reached = [(w, v) for w, v in items if v["mean"] is not None]
    never = [w for w, v in items if v["mean"] is None]
    if len(reached) < 2:
        key = "speed_one" if reached else "speed_none"
        return templates.render(TEXT, key, {"never": ", ".join(map(str, never)) or "none",
                                            "w": reached[0][0] if reached else 0})
    (w1, a), (w2, b) = reached[-2], reached[-1]
    c = stats.compare(a["mean"], a["se"] if a["se"] is not None else math.nan, b["mean"],
                      b["se"] if b["se"] is not None else math.nan)
    key = {stats.LOWER: "speed_faster", stats.HIGHER: "speed_slower", stats.TIE: "speed_tie"}[c.verdict]
    return templates.render(TEXT, key, {"w1": w1, "w2": w2, "a": a["mean"], "b": b["mean"], "diff": c.difference,
                                        "dse": c.difference_se, "never": ", ".join(map(str, never)) or "none"})


def curve_sentences(m: dict) -> list[str]:
    """(b): per curve width, whether its runs reach 1e-3, and why not (under- or over-parameterised)."""
    out = []
    for w, info in m["to_1e-3"].items():
        under = n_params(int(w)) < m["constraints"]
        key = ("reach_all" if info["fraction"] == 1 else "reach_some" if info["fraction"] > 0 else
               "reach_none_under" if under else "reach_none_over")
        out.append(templates.render(TEXT, key, {"w": w, "pct": 100 * info["fraction"], "n_runs": m["n_runs"],
                                                "p": n_params(int(w)), "no": m["constraints"],
                                                "mean": info["mean"] or math.nan, "se": info["se"] or math.nan}))
    return out


def more_data_sentences(m: dict) -> list[str]:
    """(d): one sentence per picked width, worded by the paired comparison's verdict."""
    d = m["more_data_hurts"]
    return [templates.render(TEXT, f"more_data_{_word(v)}", {
        "w": w, "p": p, "role": TEXT[f"role_{role}"], "a": a, "sa": sa, "b": b, "sb": sb, "diff": df, "dse": dse,
        "z": z, "n_small": d["n_small"], "n_large": d["n_large"], "ra": p / (8 * d["n_small"]),
        "rb": p / (8 * d["n_large"]), "tra": tra, "trb": trb, "n_runs": m["n_runs"]})
        for w, p, role, a, sa, b, sb, df, dse, z, v, tra, trb in zip(
            d["widths"], d["params"], d["roles"], d["test_loss_n_small"], d["test_loss_n_small_se"],
            d["test_loss_n_large"], d["test_loss_n_large_se"], d["difference"], d["difference_se"], d["z"],
            d["verdict"], d["train_loss_n_small"], d["train_loss_n_large"])]


def report_fields(m: dict) -> dict:
    d, large, conv = m["more_data_hurts"], m["n_large"], m["convergence"]
    return {**m, "large": large, "conv": conv, "n_small": d["n_small"], "n_large_n": d["n_large"],
            "counting_params": m["constraints"], "ratio_thr": (m["threshold_params"] or math.nan) / m["constraints"],
            "ratio_thr_large": (large["threshold_params"] or math.nan) / large["constraints"],
            "unsettled": ", ".join(map(str, conv["unsettled_widths"][0])) or "none",
            "unsettled_large": ", ".join(map(str, conv["unsettled_widths"][1])) or "none",
            "budget_list": "; ".join(f"{e}: {'none' if w is None else w}" for e, w in m["threshold_by_budget"].items()),
            "budget_list_large": "; ".join(f"{e}: {'none' if w is None else w}"
                                           for e, w in large["threshold_by_budget"].items()),
            "peak_lo": (m["peak_region"] or [None, None])[0], "peak_hi": (m["peak_region"] or [None, None])[1],
            "hurts_list": ", ".join(map(str, d["hurts_widths"])) or "none",
            "n_configs": m["sweep"]["n_configs"],
            "diverged_list": "; ".join(f"M = {w}: {a} / {b}" for w, a, b in zip(m["widths"], *m["diverged_runs"])
                                       if a or b),
            "helps_list": ", ".join(map(str, d["helps_widths"])) or "none"}


def report(m: dict) -> list[Answer]:
    d, large = m["more_data_hurts"], m["n_large"]
    fields = report_fields(m)
    sizes = f"{d['n_small']} / {d['n_large']}"
    budget_rows = [[f"threshold after {e} epochs (N = {d['n_small']} / {d['n_large']})",
                    f"{w} / {large['threshold_by_budget'].get(e)}"] for e, w in m["threshold_by_budget"].items()]
    thr_key = ("threshold_none" if m["threshold_width"] is None else
               "threshold_budget" if budget_moves(m["threshold_by_budget"]) else "threshold_stable")
    settle_key = "settled_all" if not m["convergence"]["unsettled_widths"][0] else "settled_not"
    hurts_key = "hurts_found" if d["hurts_widths"] else "hurts_not_found"
    far_text = ""
    if d["hurts_widths"] and "far_beyond" in d["roles"]:  # the widest picked width, worded by its own verdict
        i = d["roles"].index("far_beyond")
        far_text = " " + templates.render(TEXT, f"far_{_word(d['verdict'][i])}", {
            **fields, "far_w": d["widths"][i], "far_diff": d["difference"][i], "far_dse": d["difference_se"][i]})
    return [
        Answer(question="(a) the theoretical optimal test error R_t", ids=["001 CA1(a)", "001 CA1(b.1)"],
               derivation=templates.render(TEXT, "rt_derivation", fields),
               table=[["R_t = noise variance", m["R_t"]]],
               text=templates.render(TEXT, "rt_text", fields), code=["nndl.data.teacher.g", "nndl.data.teacher.draws"]),
        Answer(question="(b) training loss for M in {10, 50, 100}; which M reach MSE < 1e-3, and how fast?",
               ids=["001 CA1(b.2)", "001 CA1(b.3)"], figures=["training_curves.png"],
               table=[[f"M = {w}: runs < 1e-3, epochs (mean ± s.e.)",
                       f"{info['fraction']:.0%}, " + (f"{info['mean']:.0f} ± {info['se'] or 0:.0f}"
                                                      if info["mean"] is not None else "never")]
                      for w, info in m["to_1e-3"].items()],
               text=(templates.render(TEXT, "curves_text", fields) + " " + " ".join(curve_sentences(m)) + " "
                     + speed_sentence(m["to_1e-3"])),
               code=["nndl.train.mlp.train_epoch", "nndl.models.padded_mlp.apply"]),
        Answer(question="(c) final train/test loss vs M; the interpolation threshold and its parameter count",
               ids=["001 CA1(c.1)", "001 CA1(c.2)"],
               derivation=templates.render(TEXT, "counting_derivation", fields),
               figures=["double_descent.png", "budget_heatmap.png", "convergence.png"],
               table=[[f"threshold width (N = {sizes})", f"{m['threshold_width']} / {large['threshold_width']}"],
                      [f"threshold params (N = {sizes})", f"{m['threshold_params']} / {large['threshold_params']}"],
                      [f"counting width M* (N = {sizes})",
                       f"{m['counting_width']:.1f} / {large['counting_width']:.1f}"],
                      ["test-loss peak width (within 2 s.e.)",
                       f"{m['peak_width']} ({fields['peak_lo']}-{fields['peak_hi']})"],
                      ["peak test MSE", _pm(m["peak_test_loss"], m["peak_test_loss_se"])],
                      [f"test MSE at M = {m['widths'][-1]}", _pm(m["test_loss_at_max_width"],
                                                                 m["test_loss_at_max_width_se"])]] + budget_rows,
               text=" ".join([templates.render(TEXT, "runs_text", fields),
                              templates.render(TEXT, "diverged_text", fields) if m["diverged"] else "",
                              templates.render(TEXT, thr_key, fields),
                              templates.render(TEXT, peak_key(m), fields) if m["peak_width"] is not None else "",
                              templates.render(TEXT, settle_key, fields)]).strip(),
               code=["experiments.double_descent.interpolation.threshold",
                     "experiments.double_descent.interpolation.settling",
                     "experiments.double_descent.interpolation.counting_width"]),
        Answer(question="(d) can more data hurt? N = 100 vs N = 200 at the threshold and beyond", ids=["001 CA1(d)"],
               figures=["more_data.png"],
               table=[[f"M = {w} ({TEXT['role_' + r]}): N = {d['n_small']} / N = {d['n_large']}",
                       f"{_pm(a, sa)} / {_pm(b, sb)}; diff {_pm(df, dse)}"]
                      for w, r, a, sa, b, sb, df, dse in zip(d["widths"], d["roles"], d["test_loss_n_small"],
                                                             d["test_loss_n_small_se"], d["test_loss_n_large"],
                                                             d["test_loss_n_large_se"], d["difference"],
                                                             d["difference_se"])],
               text=" ".join(more_data_sentences(m)) + " " + templates.render(TEXT, hurts_key, fields) + far_text,
               code=["experiments.double_descent.interpolation.pick_widths", "nndl.stats.compare_paired"]),
    ]


def checks(m: dict) -> list[Check]:
    test = np.asarray(m["test_loss"], float)
    rt, n_test = m["R_t"], 2000 * teacher.D_OUT
    # the sample variance of n squared Gaussian residuals has s.e. R_t * sqrt(2 / n): a test MSE more than
    # 4 of those below R_t would mean the test set was seen in training
    floor = rt * (1 - 4 * math.sqrt(2 / n_test))
    out = [Check("no width's test MSE below R_t beyond 4 sampling s.e.", reference=rt,
                 measured=float(np.nanmin(test)) if np.isfinite(test).any() else None,
                 tolerance=f"{floor:.4g} (4 s.e. of {n_test} residuals)",
                 passed=bool(np.isfinite(test).any() and np.nanmin(test) > floor))]
    if m["threshold_width"] is not None:
        # the measured threshold must sit at or beyond the counting width: below it the net cannot fit
        # N·O values exactly (up to the budget, which only moves it wider)
        out.append(Check("measured threshold >= counting width M* - 2", reference=m["counting_width"],
                         measured=m["threshold_width"], tolerance="2 widths",
                         passed=m["threshold_width"] >= m["counting_width"] - 2))
    if m["peak_width"] is not None:
        out.append(Check("test peak above the widest net's test MSE by > 2 s.e.",
                         reference=m["test_loss_at_max_width"], measured=m["peak_test_loss"],
                         tolerance="2 s.e. (paired runs not assumed)",
                         passed=stats.compare(_f(m["test_loss_at_max_width"]), _f(m["test_loss_at_max_width_se"]),
                                              _f(m["peak_test_loss"]), _f(m["peak_test_loss_se"])).verdict == "higher"))
    return out
