"""heteroscedastic answers (seed 000 §3) and checks, from metrics.json; prose in report.md beside this file."""

from __future__ import annotations

import math

from experiments.heteroscedastic.diagnostics import FIT_VERDICTS
from nndl.report import Answer, Check
from nndl.run import templates

TEXT = templates.beside(__file__)
GAUSSIAN_COVERAGE = {1: 0.6826894921370859, 2: 0.9544997361036416}  # P(|z| <= k), z ~ N(0, 1)
VERDICT_KEYS = {v: v.replace(" ", "_") for v in FIT_VERDICTS}
PACKAGE = "experiments.heteroscedastic"
CODE = {
    "a": ["nndl.data.split_indices", f"{PACKAGE}.run.load_data"],
    "b": [f"{PACKAGE}.model.squared_errors"],
    "c": [f"{PACKAGE}.model.predict", f"{PACKAGE}.training.fit_epoch", f"{PACKAGE}.training.fit_regimes",
          f"{PACKAGE}.diagnostics.excess", f"{PACKAGE}.diagnostics.fit_verdict"],
    "d": [f"{PACKAGE}.training.warmup_cosine", f"{PACKAGE}.training.regime_schedules",
          f"{PACKAGE}.diagnostics.choose_lrs", f"{PACKAGE}.architectures.explore_architectures",
          f"{PACKAGE}.architectures.select_architecture"],
    "e": ["nndl.losses.gaussian_nll", f"{PACKAGE}.model.gaussian_head"],
    "f": [f"{PACKAGE}.model.gaussian_predict", f"{PACKAGE}.model.gaussian_nlls", f"{PACKAGE}.training.fit_gaussian"],
}


def verdict_text(assessment: dict | None, what: str, heldout: str, truth: bool = True) -> str:
    """The verdict sentence of `diagnostics.fit_verdict`'s result, chosen by its verdict (text in report.md)."""
    if assessment is None:
        return ""
    key = VERDICT_KEYS.get(assessment["verdict"], "diverged")
    ref = "the true model's" if truth else "Rice's noise estimate"
    below = (templates.render(TEXT, "below_truth", {"what": what, "ref": ref})
             if key == "overfitting" and assessment["train"]["vs_truth"] == "lower" else "")
    return templates.render(TEXT, f"verdict_{key}", {"a": assessment, "what": what, "heldout": heldout,
                                                     "below_truth": below, "ref": ref})


def _fmt(v, spec=".4f") -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def _pm(d: dict | None) -> str:
    """'difference ± s.e.' of a paired comparison (n/a where missing or diverged)."""
    d = d or {}
    return f"{_fmt(d.get('difference'), '+.4f')} ± {_fmt(d.get('se'))}"


def _lr_side(metrics: dict, side: str) -> str:
    sw, reg = metrics["lr_sweep"], metrics["lr_regimes"][side]
    i = reg["row"]
    d = sw["vs_best"][i] or {"difference": None, "se": None}
    found = sw[f"{side}_found"]
    key = f"lr_{side.split('_')[1]}_{'found' if found else 'none'}"
    text = templates.render(TEXT, key, {"lr": sw["lrs"][i], "val": sw["val_mse"][i], "diff": d["difference"],
                                        "se": d["se"], "steps": metrics["settings"]["steps"]})
    return text + " " + templates.render(TEXT, "lr_curve", {**reg, "mid_step": metrics["settings"]["steps"] // 2})


def report_fields(metrics: dict) -> dict:
    """The fields every section may use: the metrics plus the settings and a few derived names."""
    st = metrics["settings"]
    return {**metrics, "hidden": "-".join(str(w) for w in st["hidden"]), "lr": st["lr"], "steps": st["steps"],
            "nll_lr": st["nll_lr"], "var_floor": st["var_floor"], "total": metrics["n_train"] + metrics["n_test"]}


def _answer_c(metrics: dict, fields: dict) -> Answer:
    h, o, hidden = metrics["homoscedastic"], metrics.get("oracle", {}), fields["hidden"]
    truth = bool(metrics["truth_known"])
    text = templates.render(TEXT, "fit_c_text" if truth else "fit_c_text_no_truth",
                            {**fields, "verdict": verdict_text(h["assessment"], "MSE", "test", truth)})
    table = [["MSE, 1-" + hidden + "-1 net", h["train_mse"], h["test_mse"]]]
    if truth:
        a = h["assessment"]
        table += [["MSE, true model", o["train_mse"], o["test_mse"]],
                  ["excess MSE (± s.e.)", f"{_fmt(a['train']['excess'], '+.4f')} ± {_fmt(a['train']['se'])}",
                   f"{_fmt(a['heldout']['excess'], '+.4f')} ± {_fmt(a['heldout']['se'])}"],
                  ["NLL, shared sigma", h["train_nll"], h["test_nll"]],
                  ["NLL, true model", o["train_nll"], o["test_nll"]]]
        text += " " + templates.render(TEXT, "homo_nll_text", {**fields, "low_cov": h["coverage_2sigma_halves"][0],
                                                                "high_cov": h["coverage_2sigma_halves"][1]})
    return Answer(question="(c) MLP 1-32-64-1 fitted by MSE; under- or over-fitting?", ids=["000 §3(c)"],
                  figures=["heteroscedastic.png"], header=["", "train", "test"], table=table, text=text,
                  code=CODE["c"])


def _answer_lr(metrics: dict, fields: dict) -> Answer:
    sw, lr = metrics["lr_sweep"], metrics["lr_regimes"]
    sched = sw["schedule_vs_constant"]
    sched_key = "diverged" if sched["verdict"] == "diverged" else sched["verdict"].replace(" ", "_")
    best = sw["best_lr"]
    best_val = sw["val_mse"][sw["lrs"].index(best)] if best is not None else None
    lr_fields = {**fields, "n_lrs": len(sw["lrs"]), "lr_min": min(sw["lrs"]), "lr_max": max(sw["lrs"]),
                 "best_val": best_val, "truth_val": _fmt(sw["truth_val_mse"]),
                 "large": _lr_side(metrics, "too_large"), "small": _lr_side(metrics, "too_small")}
    if best is None:
        lr_fields["lr_sweep"] = {**sw, "best_lr": math.nan}
    text = " ".join([
        templates.render(TEXT, "lr_text", lr_fields) + (" " + templates.render(TEXT, "one_seed_note", {})
                                                        if sw["seeds"] == 1 else ""),
        templates.render(TEXT, f"schedule_{sched_key}", {"lr": fields["lr"], "sched": lr["warmup_cosine"]["final_val"],
                                                          "const": lr["constant"]["final_val"], "d": sched}),
        templates.render(TEXT, "schedule_note", {**fields, "sched_train": lr["warmup_cosine"]["final_train"]})])
    table = [[rate, sw["train_mse"][i], sw["val_mse"][i], _pm(sw["vs_best"][i]), "yes" if sw["fails"][i] else "no"]
             for i, rate in enumerate(sw["lrs"])]
    table.append(["warm-up + cosine", lr["warmup_cosine"]["final_train"], lr["warmup_cosine"]["final_val"],
                  _pm(sw["schedule_vs_best"]), ""])
    return Answer(question="(d) learning rate too large, too small, warm-up + cosine annealing", ids=["000 §3(d)"],
                  figures=["lr_regimes.png"], text=text, code=CODE["d"][:3],
                  header=["learning rate", "train MSE", "validation MSE", "val. vs best (± s.e.)", "clearly fails"],
                  table=table)


def _answer_arch(metrics: dict, fields: dict) -> Answer:
    ar, o = metrics["architectures"], metrics.get("oracle", {})
    s, vb = ar["selected"], ar["vs_baseline"]
    vb_key = "diverged" if vb["verdict"] == "diverged" else vb["verdict"].replace(" ", "_")
    d_neg = {**vb, "difference": -vb["difference"] if vb["verdict"] == "lower" else vb["difference"]}

    def uniq(k: str) -> str:
        values = sorted({c[k] for c in ar["configs"]})
        return ", ".join(format(v, "g") if isinstance(v, float) else str(v) for v in values)

    text = templates.render(TEXT, "arch_text", {
        **fields, "s": s, "depths": uniq("depth"), "activations": uniq("activation"), "widths": uniq("width"),
        "decays": uniq("weight_decay"),
        "n_groups": len(ar["configs"]), "truth_fit": _fmt(o.get("fit_mse")), "truth_val": _fmt(o.get("val_mse")),
        "truth_test": _fmt(o.get("test_mse")),
        "vs_baseline": templates.render(TEXT, f"arch_{vb_key}",
                                        {"hidden": fields["hidden"], "d": d_neg, "n_val": metrics["n_val"]}),
        "verdict": verdict_text(s["test_assessment"], "MSE", "test", bool(metrics["truth_known"]))})
    return Answer(question="(d) architecture exploration, selected on validation", ids=["000 §3(d)"],
                  figures=["architectures.png"], text=text, code=CODE["d"][3:],
                  header=["depth", "width", "activation", "weight decay", "parameters", "train MSE", "validation MSE"],
                  table=[[c["depth"], c["width"], c["activation"], c["weight_decay"], c["params"], c["train_mse"],
                          c["val_mse"]] for c in ar["configs"]])


def _answer_f(metrics: dict, fields: dict) -> Answer:
    h, het, o = metrics["homoscedastic"], metrics["heteroscedastic"], metrics.get("oracle", {})
    truth = bool(metrics["truth_known"])
    f_fields = {**fields, "low_cov": het["coverage_2sigma_halves"][0], "high_cov": het["coverage_2sigma_halves"][1],
                "mse_verdict": verdict_text(het["assessment"], "MSE", "test", truth),
                "nll_verdict": verdict_text(het.get("nll_assessment"), "NLL", "test")}
    if truth:
        v = het["vs_homoscedastic_test_nll"]["verdict"]
        f_fields["vs_homo"] = {"lower": "lower, significant", "higher": "higher, significant"}.get(v, v)
    blocks = [h, het] + ([o] if truth else [])
    table = [[label] + [b[key] for b in blocks] for label, key in (
        ("train NLL", "train_nll"), ("test NLL", "test_nll"), ("train MSE", "train_mse"), ("test MSE", "test_mse"),
        ("inside +-1 sigma (0.683 ideal)", "coverage_1sigma"), ("inside +-2 sigma (0.954 ideal)", "coverage_2sigma"))]
    table += [[label] + [b["coverage_2sigma_halves"][k] for b in blocks]
              for label, k in (("inside +-2 sigma, low-x half", 0), ("inside +-2 sigma, high-x half", 1))]
    return Answer(question="(f) mean and variance network: fit, calibration, under- or over-fitting?",
                  ids=["000 §3(f)"], figures=["heteroscedastic.png"],
                  header=["", "homoscedastic", "heteroscedastic"] + (["true model"] if truth else []), table=table,
                  text=templates.render(TEXT, "fit_f_text" if truth else "fit_f_text_no_truth", f_fields),
                  code=CODE["f"])


def report(metrics: dict) -> list[Answer]:
    fields = report_fields(metrics)
    return [
        Answer(question="(a) load x_y.csv and split it randomly 66/33", ids=["000 §3(a)"],
               table=[["training points", metrics["n_train"]], ["test points", metrics["n_test"]],
                      ["(d) of which fit / validation", f"{metrics['n_fit']} / {metrics['n_val']}"]],
               text=templates.render(TEXT, "split_text", fields), code=CODE["a"]),
        Answer(question="(b) why the MSE is a reasonable log-likelihood (homoscedastic Gaussian)", ids=["000 §3(b)"],
               derivation=templates.render(TEXT, "mse_derivation", fields),
               text=templates.render(TEXT, "mse_text", fields), code=CODE["b"]),
        _answer_c(metrics, fields),
        _answer_lr(metrics, fields),
        _answer_arch(metrics, fields),
        Answer(question="(e) log-likelihood of the heteroscedastic model", ids=["000 §3(e)"],
               derivation=templates.render(TEXT, "nll_derivation", fields),
               text=templates.render(TEXT, "nll_text", fields), code=CODE["e"]),
        _answer_f(metrics, fields),
    ]


def _within(measured, reference, tolerance: float) -> bool:
    """|measured - reference| <= tolerance; False when either is missing (null: a diverged fit)."""
    return measured is not None and reference is not None and abs(measured - reference) <= tolerance


def checks(metrics: dict) -> list[Check]:
    h, het, sw = metrics["homoscedastic"], metrics["heteroscedastic"], metrics["lr_sweep"]
    n = metrics["n_test"]
    rows = []
    for k, p in GAUSSIAN_COVERAGE.items():
        se = math.sqrt(p * (1 - p) / n)
        rows.append(Check(f"heteroscedastic coverage of +-{k} sigma", p, het[f"coverage_{k}sigma"],
                          f"4 binomial std errors ({4 * se:.3f})", _within(het[f"coverage_{k}sigma"], p, 4 * se)))
    closed, nll = h["train_nll_closed_form"], h["train_nll"]
    rows.append(Check("homoscedastic training NLL at sigma^2 = MSE equals (log(2 pi MSE) + 1)/2", closed, nll,
                      "1e-5 rel (float32 predictions)",
                      _within(nll / closed, 1.0, 1e-5) if closed and nll is not None else _within(nll, 0.0, 1e-5)))
    if "vs_homoscedastic_test_nll" in het:
        d = het["vs_homoscedastic_test_nll"]
        rows.append(Check("heteroscedastic test NLL below homoscedastic (paired, 2 s.e.)", 0.0, d["difference"],
                          f"2 s.e. ({_fmt(d['se'])})", d["verdict"] == "lower"))
    found = bool(sw["too_large_found"] and sw["too_small_found"])
    rows.append(Check("too-large and too-small rates found in the grid (each clearly fails)", True, found,
                      "both found", found))
    return rows
