"""experiments.implicit_reg (package): smoke run, per-lr numbers against numpy, report wording, checks, flags."""

import copy

import numpy as np
import pytest

from experiments import implicit_reg
from experiments.implicit_reg import report as rep
from experiments.implicit_reg import summary
from nndl.run import runio
from nndl.sweep import Grid
from tests.helpers import calls_recorded, check_report_entries

SMALL = ["--lrs", "0.05,0.1", "--seeds", "2", "--data-draws", "2", "--epochs", "30", "--wd-epochs", "20",
         "--width", "8", "--depth", "2", "--batch-size", "25", "--weight-decays", "0.001,0.01,0.1",
         "--stop-loss", "0.6"]
CODE = ["nndl.train.mlp.train_epoch", "nndl.train.gradnoise.gradient_noise",
        "experiments.implicit_reg.summary.weight_decay_summary"]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("ir")
    with calls_recorded(CODE) as ran:
        assert implicit_reg.main([*SMALL, "--out", str(out)]) == 0
    return runio.read_json(out / "metrics.json"), runio.load_curves(out / "curves.npz"), out, set(ran)


def test_smoke_implicit_reg(smoke):
    m, per, out, _ = smoke
    for key in ("lrs", "final_train_loss", "test_loss", "grad_norm_sq", "minibatch_grad_var", "weight_decay",
                "n_seeds", "n_data_draws", "converged_fraction", "excluded_lrs", "grad_norm_sq_se",
                "minibatch_grad_var_se", "test_loss_se"):
        assert key in m
    assert m["lrs"] == [0.05, 0.1] and m["n_batches"] == 4 and m["n_runs"] == 4
    assert len(m["weight_decay"]["grid"]) == 6
    for fig in ("convergence.png", "gradient_norms.png", "weight_decay.png"):
        assert (out / fig).stat().st_size > 10_000
    assert not list(out.glob("checkpoint*.npz"))
    implicit, decay = runio.read_json(out / "sweep.json")  # the two sweep calls, every config they trained
    assert implicit["optimizer"] == decay["optimizer"] == "sgd" and implicit["depth"] == 2
    assert implicit["n_configs"] == 2 * 4 and decay["n_configs"] == 3 * 2 * 4
    assert {c["stop_loss"] for c in implicit["configs"]} == {0.6} and {c["stop_loss"] for c in decay["configs"]} == {0}
    assert sorted({c["weight_decay"] for c in decay["configs"]}) == [0.001, 0.01, 0.1]
    # per lr: mean and s.e. over the CONVERGED runs only; the converged fraction; exclusions below one half
    for i, lr in enumerate(m["lrs"]):
        sel = np.isclose(per["lr"], lr)
        conv = per["converged"][sel].astype(bool)
        assert m["converged_fraction"][i] == pytest.approx(conv.mean())
        assert (lr in m["kept_lrs"]) == (conv.mean() >= 0.5)
        assert (lr in [e["lr"] for e in m["excluded_lrs"]]) == (conv.mean() < 0.5)
        if conv.sum() >= 2:
            v = per["minibatch_grad_var"][sel][conv]
            np.testing.assert_allclose(m["minibatch_grad_var"][i], v.mean(), rtol=1e-6)
            np.testing.assert_allclose(m["minibatch_grad_var_se"][i], v.std(ddof=1) / np.sqrt(len(v)), rtol=1e-6)
            g = per["grad_norm_sq"][sel][conv]
            np.testing.assert_allclose(m["implicit_regulariser"][i], lr / 4 * (g + v).mean(), rtol=1e-6)


def test_report_entries_complete_and_listed_code_ran(smoke):
    m, _, _, ran = smoke
    entries = check_report_entries(rep, m, ran)
    assert {i for e in entries for i in e["ids"]} == {"001 CA2(a)", "001 CA2(b)", "001 CA2(c.1)", "001 CA2(c.2)",
                                                      "001 CA2(c.3)", "001 CA2(c.4)", "001 CA2(d)"}
    assert sorted({c for e in entries for c in e.get("code", [])}) == sorted(CODE)


def _reg(val):
    """A fake weight-decay sweep with the given validation MSE per (wd, lr, run)."""
    val = np.asarray(val, float)
    return {"val": val.ravel(), "test": val.ravel() + 0.01, "train": val.ravel() / 2}


def test_weight_decay_choice_on_validation_interior_and_edge():
    wds, lrs, runs = [1e-4, 1e-3, 1e-2], [0.1, 0.2], 3
    grid = Grid(weight_decay=wds, lr=lrs, data=[0], seed=range(runs))  # flat order: (wd, lr, run)
    imp_grid = Grid(lr=lrs, data=[0], seed=range(runs))
    imp = {"val": np.full(6, 0.5), "test": np.full(6, 0.5) + np.array([0, 0.01, -0.01, 0.02, 0, 0.01]),
           "converged": np.ones(6, bool)}
    inner = np.full((3, 2, runs), 0.4)
    inner[1, 1] = [0.30, 0.31, 0.29]
    s = summary.weight_decay_summary(_reg(inner), grid, imp, imp_grid, [0, 1])
    assert s["best"]["weight_decay"] == 1e-3 and s["best"]["lr"] == 0.2 and s["interior"]
    # compared with the implicit runs paired by run: test 0.31 vs 0.5 + offsets
    np.testing.assert_allclose(s["comparison"]["difference"], np.mean([0.31, 0.32, 0.30]) - np.mean(imp["test"][:3]),
                               rtol=1e-9)
    assert s["comparison"]["verdict"] == "lower" and s["beats_implicit"]
    edge = np.full((3, 2, runs), 0.4)
    edge[2, 0] = 0.2
    s = summary.weight_decay_summary(_reg(edge), grid, imp, imp_grid, [0, 1])
    assert not s["interior"] and s["edge"] == "largest"
    assert "should be extended" in rep.report(_metrics_with_wd(s))[2].text


def _metrics_with_wd(wd):
    m = copy.deepcopy(FAKE)
    m["weight_decay"] = wd
    return m


FAKE = {"lrs": [0.02, 0.16], "kept_lrs": [0.02, 0.16], "excluded_lrs": [], "width": 50, "depth": 5,
        "batch_size": 20, "n_train": 100, "n_val": 1000, "n_params": 11058, "stop_loss": 1e-5, "epochs": 8000,
        "n_seeds": 3, "n_data_draws": 2, "n_runs": 6, "n_batches": 5, "converged_fraction": [1.0, 1.0],
        "epochs_to_converge": [3400, 840], "epochs_to_converge_se": [280, 100],
        "final_train_loss": [9e-6, 9e-6], "test_loss": [0.70, 0.61], "test_loss_se": [0.008, 0.01],
        "grad_norm_sq": [8e-6, 3e-5], "grad_norm_sq_se": [3e-6, 7e-6],
        "minibatch_grad_var": [2.3e-5, 1.9e-5], "minibatch_grad_var_se": [3e-6, 3e-6],
        "implicit_regulariser": [1.5e-7, 2e-6], "implicit_regulariser_se": [3e-8, 4e-7],
        "trend": {"var_slope": -0.13, "var_slope_se": 0.12, "gsq_slope": 0.6, "gsq_slope_se": 0.3,
                  "corr_log_var_test": 0.25, "corr_low": -0.17, "corr_high": 0.59,
                  "test_change": {"from_lr": 0.02, "to_lr": 0.16, "difference": -0.09, "difference_se": 0.01,
                                  "verdict": "lower"}},
        "weight_decay": {"grid": [], "best": None, "best_implicit": None, "interior": None, "comparison": None}}


def test_trend_wording_follows_the_uncertainty():
    text = rep.report(FAKE)[1].text
    assert "no significant trend" in text and "no significant correlation" in text
    assert "The test MSE falls from μ = 0.02 to μ = 0.16 by 0.09 " in text
    m = copy.deepcopy(FAKE)
    m["trend"].update(var_slope=-0.9, var_slope_se=0.1, corr_low=0.2, corr_high=0.8, corr_log_var_test=0.6)
    m["trend"]["test_change"].update(difference=0.01, difference_se=0.01, verdict="no significant difference")
    text = rep.report(m)[1].text
    assert "falls with μ" in text and "positively correlated" in text and "no significant difference" in text
    m = copy.deepcopy(FAKE)
    m.update(kept_lrs=[0.16], excluded_lrs=[{"lr": 0.02, "reason": "2 of 6 runs reached MSE 1e-05"}])
    texts = rep.report(m)
    assert "μ = 0.02 is excluded (2 of 6 runs" in texts[0].text and "no trend" in texts[1].text


def test_checks_can_fail(smoke):
    m = copy.deepcopy(smoke[0])
    m["final_train_loss"] = [10 * m["stop_loss"]] * len(m["lrs"])
    assert not next(c for c in rep.checks(m) if "stop point" in c.check).passed
    m["minibatch_grad_var"] = [-1.0] * len(m["lrs"])
    assert not rep.checks(m)[0].passed


def test_a_diverged_learning_rate_is_flagged_and_excluded(tmp_path):
    argv = ["--lrs", "0.05,1000", "--seeds", "1", "--data-draws", "2", "--epochs", "20", "--wd-epochs", "10",
            "--width", "8", "--depth", "2", "--batch-size", "25", "--weight-decays", "0.01", "--stop-loss", "0.6",
            "--out", str(tmp_path)]
    assert implicit_reg.main(argv) == 0
    m = runio.read_json(tmp_path / "metrics.json")
    assert m["diverged_lrs"] == [1000] and 1000 not in m["kept_lrs"]
    (excluded,) = [e for e in m["excluded_lrs"] if e["lr"] == 1000]
    assert excluded["reason"] == "diverged" and excluded["diverged"] == 2
    assert m["grad_norm_sq"][1] is None and m["test_loss"][1] is None  # never numbers of a rolled-back state
    rows = [r for r in m["weight_decay"]["grid"] if r["lr"] == 1000]
    assert all(r["test_loss"] is None for r in rows) and m["weight_decay"]["best"]["lr"] == 0.05
    assert "μ = 1000 is excluded (diverged)" in rep.report(m)[0].text


def test_all_diverged_writes_null_metrics_and_exits_0(tmp_path, capsys):
    argv = ["--lrs", "1e6,1e7", "--seeds", "1", "--data-draws", "1", "--epochs", "4", "--wd-epochs", "4",
            "--width", "8", "--depth", "2", "--batch-size", "25", "--weight-decays", "0.01", "--out", str(tmp_path)]
    assert implicit_reg.main(argv) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "warning: every config diverged (lrs 1e+06, 1e+07)" in err
    m = runio.read_json(tmp_path / "metrics.json")
    assert m["diverged"] == 4 and m["kept_lrs"] == [] and m["diverged_runs"] == [1, 1]
    assert m["test_loss"] == [None, None] and m["weight_decay"]["best"] is None
    answers = rep.report(m)
    assert all(f"μ = {lr} is excluded (diverged)" in answers[0].text for lr in ("1e+06", "1e+07"))
    assert all(isinstance(c.passed, bool) for c in rep.checks(m))
    for name in ("convergence.png", "gradient_norms.png", "weight_decay.png"):
        assert (tmp_path / name).stat().st_size > 0
