"""experiments.heteroscedastic (package): smoke run, every reported number recomputed, diverged fits reported as
diverged, user errors."""

import json

import numpy as np
import pytest

from experiments import heteroscedastic as het
from experiments.heteroscedastic import diagnostics
from experiments.heteroscedastic import report as rep
from experiments.heteroscedastic import run as het_run
from nndl import data
from nndl.run import runio
from tests.helpers import calls_recorded, check_report_entries


def numpy_nll(mean, sigma, y):
    """Per-point Gaussian NLL written out in numpy (independent of nndl.losses)."""
    return float(np.mean(0.5 * np.log(2 * np.pi * sigma**2) + (y - mean) ** 2 / (2 * sigma**2)))


SMALL = ["--steps", "40", "--hidden", "8,8", "--lr-grid", "1e-4,0.03,3", "--arch-widths", "4,8",
         "--arch-weight-decays", "0", "--arch-seeds", "2", "--lr-seeds", "2"]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("heteroscedastic")
    listed = sorted({name for names in rep.CODE.values() for name in names})
    with calls_recorded(listed) as ran:
        assert het.main([*SMALL, "--out", str(out)]) == 0
    return runio.read_json(out / "metrics.json"), runio.load_curves(out / "curves.npz"), out, set(ran)


def numpy_excess(loss, ref):
    """Paired excess written out: mean of the seed-averaged differences, s.e. over points (and seeds)."""
    d = np.atleast_2d(loss) - ref
    se = d.mean(0).std(ddof=1) / np.sqrt(d.shape[1])
    if d.shape[0] > 1:
        se = np.hypot(se, d.mean(1).std(ddof=1) / np.sqrt(d.shape[0]))
    return d.mean(), se


def check_assessment(block, loss_tr, ref_tr, loss_ho, ref_ho):
    (m_tr, se_tr), (m_ho, se_ho) = numpy_excess(loss_tr, ref_tr), numpy_excess(loss_ho, ref_ho)
    assert block["train"]["excess"] == pytest.approx(m_tr, rel=1e-4, abs=1e-6)
    assert block["train"]["se"] == pytest.approx(se_tr, rel=1e-4, abs=1e-7)
    assert block["heldout"]["excess"] == pytest.approx(m_ho, rel=1e-4, abs=1e-6)
    assert block["heldout"]["se"] == pytest.approx(se_ho, rel=1e-4, abs=1e-7)
    assert block["verdict"] == diagnostics.fit_verdict(m_tr, se_tr, m_ho, se_ho)["verdict"]


def test_smoke_every_number_recomputed(smoke):
    m, c, out, _ = smoke
    for name in ("lr_regimes.png", "heteroscedastic.png", "architectures.png", "config.json", "status.json"):
        assert (out / name).exists()
    assert not list(out.glob("checkpoint*"))  # every fit's checkpoint is kept until the run ends, then removed
    assert (m["n_train"], m["n_test"]) == (660, 340)  # 66/33 of the shipped 1,000 rows
    assert (m["n_fit"], m["n_val"]) == (528, 132)
    y, n = c["y_test"], m["n_test"]

    h = m["homoscedastic"]
    assert set(h) >= {"train_mse", "test_mse", "test_nll", "coverage_1sigma", "coverage_2sigma", "verdict"}
    assert h["sigma"] ** 2 == pytest.approx(h["train_mse"], rel=1e-6)  # MLE of a shared variance
    assert h["test_mse"] == pytest.approx(np.mean((c["mse_mean"] - y) ** 2), rel=1e-5)
    assert h["test_nll"] == pytest.approx(numpy_nll(c["mse_mean"], c["mse_sigma"], y), rel=1e-5, abs=1e-6)
    # (b): at sigma^2 = MSE the NLL per point is (log(2 pi MSE) + 1)/2
    assert h["train_nll"] == pytest.approx(0.5 * (np.log(2 * np.pi * h["train_mse"]) + 1), rel=1e-5)

    f = m["heteroscedastic"]
    assert set(f) >= {"test_mse", "test_nll", "coverage_1sigma", "coverage_2sigma", "verdict"}
    assert f["test_mse"] == pytest.approx(np.mean((c["nll_mean"] - y) ** 2), rel=1e-5)
    assert f["test_nll"] == pytest.approx(numpy_nll(c["nll_mean"], c["nll_sigma"], y), rel=1e-5, abs=1e-6)
    assert np.all(c["nll_sigma"] ** 2 >= het.get_config()["var_floor"] * (1 - 1e-6))

    for block, mean, sigma in ((h, c["mse_mean"], c["mse_sigma"]), (f, c["nll_mean"], c["nll_sigma"])):
        for k in (1, 2):  # float32 rounding may move one borderline point: 1/n
            assert block[f"coverage_{k}sigma"] == pytest.approx(np.mean(np.abs(y - mean) <= k * sigma), abs=1.01 / n)
        assert block["verdict"] == block["assessment"]["verdict"]

    # training-set numbers from the saved training predictions
    y_tr, x_tr = c["y_train"], c["x_train"]
    assert h["train_mse"] == pytest.approx(np.mean((c["mse_mean_train"] - y_tr) ** 2), rel=1e-5)
    assert f["train_mse"] == pytest.approx(np.mean((c["nll_mean_train"] - y_tr) ** 2), rel=1e-5)
    assert f["train_nll"] == pytest.approx(numpy_nll(c["nll_mean_train"], np.sqrt(c["nll_var_train"]), y_tr),
                                           rel=1e-5, abs=1e-6)
    # Rice's estimate, written out: sort by x, half the mean squared neighbour difference
    order = np.argsort(x_tr)
    assert m["noise_floor"] == pytest.approx(np.mean(np.diff(y_tr[order]) ** 2) / 2, rel=1e-12)

    # verdicts: per-point errors in excess of the true model's on the same points, recomputed in numpy
    x_te = c["x_test"]

    def true_sq(x, yy):
        return (yy - data.x_y_mean(x)) ** 2

    def true_nll(x, yy):
        return point_nll(data.x_y_mean(x), data.x_y_std(x), yy)

    check_assessment(h["assessment"], (c["mse_mean_train"] - y_tr) ** 2, true_sq(x_tr, y_tr),
                     (c["mse_mean"] - y) ** 2, true_sq(x_te, y))
    check_assessment(f["assessment"], (c["nll_mean_train"] - y_tr) ** 2, true_sq(x_tr, y_tr),
                     (c["nll_mean"] - y) ** 2, true_sq(x_te, y))
    check_assessment(f["nll_assessment"], point_nll(c["nll_mean_train"], np.sqrt(c["nll_var_train"]), y_tr),
                     true_nll(x_tr, y_tr), point_nll(c["nll_mean"], c["nll_sigma"], y), true_nll(x_te, y))
    check_assessment(h["nll_assessment"], point_nll(c["mse_mean_train"], h["sigma"], y_tr), true_nll(x_tr, y_tr),
                     point_nll(c["mse_mean"], h["sigma"], y), true_nll(x_te, y))

    low = x_te < np.median(x_te)
    oracle_mean, oracle_sigma = data.x_y_mean(x_te), data.x_y_std(x_te)
    for block, mean, sigma in ((h, c["mse_mean"], c["mse_sigma"]), (f, c["nll_mean"], c["nll_sigma"]),
                               (m["oracle"], oracle_mean, oracle_sigma)):
        inside = np.abs(y - mean) <= 2 * sigma
        np.testing.assert_allclose(block["coverage_2sigma_halves"], [inside[low].mean(), inside[~low].mean()],
                                   atol=2.01 / n)
    o = m["oracle"]
    assert o["test_nll"] == pytest.approx(numpy_nll(oracle_mean, oracle_sigma, y), rel=1e-5)
    assert o["train_nll"] == pytest.approx(np.mean(true_nll(x_tr, y_tr)), rel=1e-9)
    assert o["train_mse"] == pytest.approx(np.mean(true_sq(x_tr, y_tr)), rel=1e-9)
    assert o["noise_var"] == pytest.approx(np.mean(data.x_y_std(x_tr) ** 2), rel=1e-12)


def test_lr_sweep_and_regimes_recomputed(smoke):
    m, c, _, _ = smoke
    sw, lr = m["lr_sweep"], m["lr_regimes"]
    assert sw["lrs"] == [1e-4, 0.01, 0.03, 3.0]  # the grid plus the rate of (c), ascending
    assert set(lr) == {"too_large", "too_small", "warmup_cosine", "constant"}
    sq_val = (c["lr_pred_val"] - c["y_val"]) ** 2  # (rows, seeds, n_val)
    sq_fit = (c["lr_pred_fit"] - c["y_fit"]) ** 2
    assert sq_val.shape == (5, 2, 132)
    for i in range(4):
        assert sw["val_mse"][i] == pytest.approx(sq_val[i].mean(), rel=1e-6)
        assert sw["train_mse"][i] == pytest.approx(sq_fit[i].mean(), rel=1e-6)
    # the scan's last recorded validation loss is one step before the final parameters: close, not equal
    best = sw["lrs"].index(sw["best_lr"])
    assert sw["val_mse"][best] == min(sw["val_mse"])
    for i in range(4):
        d, se = numpy_excess(sq_val[i] - sq_val[best], 0.0)
        assert sw["vs_best"][i]["difference"] == pytest.approx(d, abs=1e-9)
        fails = (d - 2 * se > 0 and sw["val_mse"][i] >= 1.2 * sw["val_mse"][best]) if i != best else False
        assert sw["fails"][i] == fails
    d, se = numpy_excess(sq_val[-1] - sq_val[sw["lrs"].index(0.01)], 0.0)
    assert sw["schedule_vs_constant"]["difference"] == pytest.approx(d, abs=1e-9)
    assert sw["schedule_vs_constant"]["se"] == pytest.approx(se, rel=1e-6)
    assert lr["constant"]["peak_lr"] == pytest.approx(0.01) and lr["warmup_cosine"]["peak_lr"] == pytest.approx(0.01)
    above = [i for i in range(best + 1, 4) if sw["fails"][i]]
    below = [i for i in range(best - 1, -1, -1) if sw["fails"][i]]
    assert lr["too_large"]["row"] == (above[0] if above else 3) and sw["too_large_found"] == bool(above)
    assert lr["too_small"]["row"] == (below[0] if below else 0) and sw["too_small_found"] == bool(below)
    x_fit, x_val = c["x_fit"], c["x_val"]
    for name, r in lr.items():
        curve = c[f"{name}_loss"]
        assert (r["curve_last"], r["curve_min"], r["curve_mid"]) == pytest.approx(
            (curve[-1], curve.min(), curve[curve.size // 2]), rel=1e-6)
        check_assessment(r["assessment"], sq_fit[r["row"]], (c["y_fit"] - data.x_y_mean(x_fit)) ** 2,
                         sq_val[r["row"]], (c["y_val"] - data.x_y_mean(x_val)) ** 2)


def test_architectures_recomputed(smoke):
    m, c, _, _ = smoke
    ar = m["architectures"]
    assert ar["n_configs"] == 4 and len(ar["configs"]) == 2  # widths 4, 8 x 2 seeds
    vals = [g["val_mse"] for g in ar["configs"]]
    assert vals == sorted(vals)
    s = ar["selected"]
    assert (s["depth"], s["activation"], s["width"]) == (ar["configs"][0]["depth"], "relu", ar["configs"][0]["width"])
    sq = (c["selected_pred"] - c["y_eval"]) ** 2  # (seeds, fit + val + test)
    n_fit, n_val = m["n_fit"], m["n_val"]
    # the engine's final losses equal the MSE of the predictions re-made from its parameters
    assert ar["configs"][0]["val_mse"] == pytest.approx(sq[:, n_fit:n_fit + n_val].mean(), rel=1e-5)
    assert ar["configs"][0]["train_mse"] == pytest.approx(sq[:, :n_fit].mean(), rel=1e-5)
    assert s["test_mse"] == pytest.approx(sq[:, n_fit + n_val:].mean(), rel=1e-6)
    ref = (c["y_eval"] - data.x_y_mean(c["x_eval"])) ** 2
    check_assessment(s["test_assessment"], sq[:, :n_fit], ref[:n_fit], sq[:, n_fit + n_val:], ref[n_fit + n_val:])


def test_report_entries_complete_and_listed_code_ran(smoke):
    m, _, _, ran = smoke
    entries = check_report_entries(rep, m, ran)
    ids = [i for e in entries for i in e["ids"]]
    assert set(ids) == {f"000 §3({p})" for p in "abcdef"}
    derivations = {e["ids"][0]: e.get("derivation", "") for e in entries}
    for needle in ("\\log p(\\mathcal{D} | \\theta) = \\sum_{i=1}^{N}", "\\arg\\min_\\theta", "\\hat\\sigma^2"):
        assert needle in derivations["000 §3(b)"]
    for needle in ("softplus", "\\log(1 + e^{a(x)})", "\\frac{\\partial \\ell_i}{\\partial f_{\\sigma^2}}"):
        assert needle in derivations["000 §3(e)"]
    texts = " ".join(e.get("text", "") for e in entries)
    assert "nan" not in texts.replace("nanoseconds", "")
    assert all(row.passed in (True, False) for row in rep.checks(m))


def test_report_says_diverged_for_nan(smoke):
    m, *_ = smoke
    bad = json_roundtrip(m)
    block = diagnostics.fit_verdict(float("nan"), float("nan"), 0.01, 0.001)
    bad["homoscedastic"]["assessment"] = json_roundtrip(block)
    bad["homoscedastic"]["verdict"] = block["verdict"]
    text = next(e for e in rep.report(bad) if e.ids == ("000 §3(c)",)).text
    assert 'Verdict "diverged"' in text and "good fit" not in text


def test_lr_1e30_is_reported_diverged_never_a_good_fit(smoke, tmp_path, capsys):
    out = tmp_path / "lr1e30"
    # SMALL's shapes (4 rates + the schedule, 2 seeds): the smoke run's compiled programs serve this run
    capsys.readouterr()
    assert het.main([*SMALL, "--lr", "1e30", "--out", str(out)]) == 0
    assert "configs diverged; their numbers are null" in capsys.readouterr().err
    m = runio.read_json(out / "metrics.json")
    h = m["homoscedastic"]
    assert h["diverged"] is True and h["verdict"] == "diverged" and h["assessment"]["train"]["vs_truth"] == "diverged"
    assert all(h[k] is None for k in ("train_mse", "test_mse", "sigma", "test_nll", "train_nll", "coverage_2sigma"))
    sw, lr = m["lr_sweep"], m["lr_regimes"]
    i = sw["lrs"].index(1e30)
    assert sw["diverged"][i] and sw["val_mse"][i] is None and sw["fails"][i]
    assert not any(sw["diverged"][:i])  # the other rates trained as usual
    assert lr["constant"]["diverged"] and lr["warmup_cosine"]["diverged"]  # both peak at --lr
    assert lr["constant"]["final_val"] is None and lr["constant"]["assessment"]["verdict"] == "diverged"
    assert sw["schedule_vs_constant"]["verdict"] == "diverged"
    s = m["architectures"]["selected"]  # every architecture trains at --lr as well
    assert s["diverged"] and s["test_mse"] is None and s["test_assessment"]["verdict"] == "diverged"
    answers = {a.question: a.text for a in rep.report(m)}
    c_text = next(t for q, t in answers.items() if q.startswith("(c)"))
    arch_text = next(t for q, t in answers.items() if q.startswith("(d) architecture"))
    for text in (c_text, arch_text):
        assert 'Verdict "diverged"' in text and "good fit" not in text
    assert not next(row for row in rep.checks(m) if row.check.startswith("homoscedastic training NLL")).passed


def test_data_of_1e30_values_diverge_and_still_plot(smoke, tmp_path, capsys):
    columns = data.load_csv(data.X_Y_PATH, ("x", "y"))
    y = columns["y"].copy()
    y[::50] = 1e30  # squared errors overflow float32: every fit diverges at its first step
    path = tmp_path / "huge.csv"
    path.write_text(data.format_csv({"x": columns["x"], "y": y}))
    out = tmp_path / "run"
    capsys.readouterr()
    assert het.main([*SMALL, "--data", str(path), "--out", str(out)]) == 0  # 1,000 rows: the smoke run's shapes
    err = capsys.readouterr().err  # every config diverged: one warning line, exit 0
    assert err.count("\n") == 1 and "heteroscedastic: warning: every config diverged" in err
    for name in ("lr_regimes.png", "heteroscedastic.png", "architectures.png"):
        assert (out / name).stat().st_size > 0
    m = runio.read_json(out / "metrics.json")
    assert m["truth_known"] is False and m["noise_floor"] > 1e50  # Rice's estimate, float64: finite
    assert m["homoscedastic"]["verdict"] == m["heteroscedastic"]["verdict"] == "diverged"
    assert all(m["lr_sweep"]["diverged"]) and m["lr_sweep"]["best_lr"] is None
    c = runio.load_curves(out / "curves.npz")
    assert np.all(np.isnan(c["sweep_loss"])) and np.all(np.isnan(c["fit_loss"]))
    texts = " ".join(a.text for a in rep.report(m))
    assert "good fit" not in texts and texts.count('Verdict "diverged"') >= 3
    assert not any(row.passed for row in rep.checks(m) if "coverage" in row.check)


def json_roundtrip(obj):
    """What report() gets back from metrics.json: NaN -> null."""
    return json.loads(runio.dumps(obj))


def point_nll(mean, sigma, y):
    return 0.5 * np.log(2 * np.pi * sigma**2) + (y - mean) ** 2 / (2 * sigma**2)


def test_load_data_custom_file_has_no_truth(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text(data.format_csv({"x": np.linspace(0, 1, 12), "y": np.linspace(1, 2, 12)}))
    x, y, truth = het_run.load_data({"data": str(path)})
    assert truth is False and x.shape == y.shape == (12,)
    assert het_run.load_data({"data": None})[2] is True
