"""adam answers (seed 000 §2, seed 003 ex. 4.3) and checks, from metrics.json; prose in report.md beside this file."""

from __future__ import annotations

from experiments.adam.config import OPTIMISERS, TASKS, VARIANTS
from nndl.report import Answer, Check
from nndl.run import templates

TEXT = templates.beside(__file__)
ADAM_CODE = ["nndl.optim.scale_by_adam", "nndl.optim.debias", "nndl.optim.adam"]
NAMES = {"sgd": "SGD", "adam": "Adam"}


def _decay_diverged(d: dict) -> str:
    """The decay study's diverged runs named (empty when none diverged)."""
    flags = d.get("diverged", {"no_decay": False, "l2": [], "adamw": []})
    names = (["no decay"] if flags["no_decay"] else []) + [
        f"{label} at lambda {lam:g}" for m, label in (("l2", "L2"), ("adamw", "AdamW"))
        for lam, bad in zip(d["lambdas"], flags[m]) if bad]
    return templates.render(TEXT, "decay_diverged", {"names": ", ".join(names), "lr": d["lr"]}) if names else ""


def _task_verdict(task: str, t: dict) -> str:
    """One task's sentence: both convergence measures and which optimiser ends closer (factor > 2)."""
    rows = {o: {"first": t[task][o]["epochs_to_tolerance"] or "never", "stay": t[task][o]["epochs_to_stay"] or "never",
                "gap": t[task][o]["final_gap"]} for o in OPTIMISERS}
    lost = [o for o in OPTIMISERS if t[task][o].get("diverged")]
    if lost:  # a diverged run has no gap: nothing is ranked
        ending = templates.render(TEXT, "ending_diverged", {"which": " and ".join(NAMES[o] for o in lost),
                                                            "lr": ", ".join(f"{t[f'{o}_lr']:g}" for o in lost)})
        return templates.render(TEXT, "task_verdict", {"task": task.replace("_", "-"), **rows, "ending": ending})
    gaps = {o: max(rows[o]["gap"], 1e-12) for o in OPTIMISERS}
    closer, other = sorted(OPTIMISERS, key=gaps.get)
    factor = gaps[other] / gaps[closer]
    ending = (templates.render(TEXT, "ending_closer", {"closer": NAMES[closer],
                                                       "factor": factor, "lr": t[f"{closer}_lr"]})
              if factor > 2 else templates.render(TEXT, "ending_tie", {}))
    return templates.render(TEXT, "task_verdict", {"task": task.replace("_", "-"), **rows, "ending": ending})


def report(metrics: dict) -> list[Answer]:
    f, e, d, t = (metrics[k] for k in ("first_step", "effective_step", "adamw_vs_l2", "sgd_vs_adam"))
    fields = {**metrics, "largest_eps": max(f["eps_sweep"], key=lambda r: r["eps"]),
              "tolerance_pct": 100 * t["tolerance"]}
    rows = []
    for task in TASKS:
        for opt in OPTIMISERS:
            r = t[task][opt]
            rows.append([task, opt, r["train_loss"], r["test_loss"], r["epochs_to_tolerance"], r["epochs_to_stay"],
                         r["final_gap"], r.get("train_accuracy", ""), r.get("test_accuracy", "")])
        rows.append([task, "optimum", t[task]["optimum"]["train_loss"], t[task]["optimum"]["test_loss"],
                     "", "", "", "", ""])
    verdicts = " ".join(_task_verdict(task, t) for task in TASKS)
    return [
        Answer(question="§2 (a): Adam's update rules, one sentence per line; ex. 4.3 (1): Adam implemented",
               ids=["000 §2(a)", "003 4.3(a)"], derivation=templates.render(TEXT, "rules_derivation", fields),
               code=ADAM_CODE),
        Answer(question="§2 (b): in the first iteration the update reduces to the sign of the gradient",
               ids=["000 §2(b)"], derivation=templates.render(TEXT, "first_step_derivation", fields),
               header=["eps", "|step|/lr, bias-corrected", "|step|/lr, uncorrected"],
               table=[*[[r["eps"], r["ratio_bias_corrected"], r["ratio_uncorrected"]]
                        for r in [{"eps": f["eps"], **f}, *f["eps_sweep"]]],
                      ["limit eps -> 0", 1.0, f["ratio_uncorrected_theory"]]],
               text=templates.render(TEXT, "first_step_text", fields),
               code=["experiments.adam.first_step.first_step_ratios"]),
        Answer(question="§2 (c): how to avoid this behaviour", ids=["000 §2(c)"],
               derivation=templates.render(TEXT, "remedies_derivation", fields), figures=["first_step.png"],
               header=["variant", "|step|/lr at step 1", f"at step {e['steps']}"],
               table=[[v.replace("_", " "), e[v][0], e[v][-1]] for v in VARIANTS],
               text=templates.render(TEXT, "remedies_text", fields),
               code=["experiments.adam.first_step.effective_steps"]),
        # label/value rows (the lambdas are the first row's values): no column header
        Answer(question="§2 (d): L2 penalty in the loss vs decoupled weight decay (AdamW)", ids=["000 §2(d)"],
               derivation=templates.render(TEXT, "decay_derivation", fields), figures=["adamw_vs_l2.png"],
               table=[["lambda", *d["lambdas"]], ["test MSE, L2", *d["l2"]["test_loss"]],
                      ["test MSE, AdamW", *d["adamw"]["test_loss"]], ["||W||, L2", *d["l2"]["weight_norm"]],
                      ["||W||, AdamW", *d["adamw"]["weight_norm"]]],
               text=" ".join(filter(None, [templates.render(TEXT, "decay_text", fields), _decay_diverged(d)])),
               code=["nndl.optim.add_decayed_weights", "nndl.optim.adamw", "experiments.adam.decay.penalised_loss",
                     "experiments.adam.decay.decay_multiplier"]),
        Answer(question="ex. 4.3 (2): Adam vs SGD (Project 2) on regression and classification, training and testing",
               ids=["003 4.3(b)"], figures=["sgd_vs_adam.png"],
               header=["task", "optimiser", "train loss", "test loss", "first within tol", "stays within from",
                       "final loss/opt - 1", "train acc", "test acc"], table=rows,
               text=templates.render(TEXT, "sgd_vs_adam_text", {**fields, "verdicts": verdicts}),
               code=["experiments.adam.training.linear_epoch", "nndl.train.mlp.minibatch_epoch",
                     "experiments.adam.linear.optimizer", "experiments.adam.linear.epochs_to_stay"]),
    ]


def checks(metrics: dict) -> list[Check]:
    f, d = metrics["first_step"], metrics["adamw_vs_l2"]
    limit = f["eps_sweep"][-1]  # the smallest eps: the eps -> 0 limit
    theory = f["ratio_uncorrected_theory"]
    rows = [Check(f"first step without bias correction = (1 - b1)/sqrt(1 - b2) lr (eps={limit['eps']:g})", theory,
                  limit["ratio_uncorrected"], "1e-3 rel", abs(limit["ratio_uncorrected"] / theory - 1) < 1e-3),
            Check(f"first step with bias correction = lr sign(g) (eps={limit['eps']:g})", 1.0,
                  limit["ratio_bias_corrected"], "1e-3", abs(limit["ratio_bias_corrected"] - 1) < 1e-3),
            decay_check(d["decay_multiplier"]["adamw"])]
    for task in TASKS:
        block = metrics["sgd_vs_adam"][task]
        for opt in OPTIMISERS:
            best, loss = block["optimum"]["train_loss"], block[opt]["train_loss"]
            rows.append(Check(f"{task} {opt}: train loss >= exact optimum", best, loss,
                              "float32 rounding (1e-5 rel)" if loss is not None else "diverged: no loss to compare",
                              loss is not None and loss >= best * (1 - 1e-5)))
    return rows


def decay_check(multipliers: list) -> Check:
    """AdamW's per-weight decay is lr lambda w for every input scale (a diverged probe run measures nothing)."""
    if any(m is None for m in multipliers):
        return Check("AdamW decays every weight at lr lambda", 1.0, None, "diverged: not measured", False)
    return Check("AdamW decays every weight at lr lambda", 1.0, max(multipliers, key=lambda m: abs(m - 1)),
                 "1e-3 rel", all(abs(m - 1) < 1e-3 for m in multipliers))
