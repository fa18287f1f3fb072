"""experiments.double_descent (package): smoke run, its numbers against numpy, report wording, checks, flags."""

import copy

import matplotlib.pyplot as plt
import numpy as np
import pytest

from experiments import double_descent
from experiments.double_descent import plots
from experiments.double_descent import report as rep
from nndl import stats
from nndl.data import teacher
from nndl.models import padded_mlp
from nndl.run import runio
from tests.helpers import calls_recorded, check_report_entries

SMALL = ["--widths", "2,10,16", "--epochs", "40", "--n-train", "16", "--n-train-large", "32", "--lr", "0.01",
         "--buckets", "1", "--seeds", "2", "--data-draws", "2"]
CODE = ["nndl.data.teacher.g", "nndl.data.teacher.draws", "nndl.train.mlp.train_epoch", "nndl.models.padded_mlp.apply",
        "experiments.double_descent.interpolation.threshold", "experiments.double_descent.interpolation.settling",
        "experiments.double_descent.interpolation.counting_width",
        "experiments.double_descent.interpolation.pick_widths", "nndl.stats.compare_paired"]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("dd")
    with calls_recorded(CODE) as ran:
        assert double_descent.main([*SMALL, "--out", str(out)]) == 0
    return runio.read_json(out / "metrics.json"), runio.load_curves(out / "curves.npz"), out, set(ran)


def test_smoke_double_descent(smoke):
    m, curves, out, _ = smoke
    for key in ("R_t", "widths", "train_loss", "test_loss", "threshold_width", "threshold_params",
                "more_data_hurts", "epochs_to_1e-3", "n_seeds", "n_data_draws", "train_loss_se", "test_loss_se",
                "threshold_by_budget"):
        assert key in m
    assert m["R_t"] == teacher.NOISE**2 and m["widths"] == [2, 10, 16]
    assert m["n_seeds"] == 2 and m["n_data_draws"] == 2 and m["n_runs"] == 4
    assert len(m["threshold_by_budget"]) >= 2 and len(m["n_large"]["threshold_by_budget"]) >= 2
    assert m["params"] == [padded_mlp.param_count(w, d_in=8, d_out=8, depth=2) for w in (2, 10, 16)]
    d = m["more_data_hurts"]
    assert d["widths"][-1] == 16 and len(d["difference_se"]) == len(d["widths"]) == len(d["test_loss_n_large"])
    for fig in ("training_curves.png", "double_descent.png", "more_data.png", "budget_heatmap.png",
                "convergence.png"):
        assert (out / fig).stat().st_size > 10_000
    assert not list(out.glob("checkpoint*.npz"))  # removed once the sweep completed
    # sweep.json replays exactly the trained configs: 2 sizes x 3 widths x 2 draws x 2 seeds, full batch
    (block,) = runio.read_json(out / "sweep.json")
    assert block["optimizer"] == "adam" and block["depth"] == 2 and block["n_test"] == 2000
    assert block["n_configs"] == len(block["configs"]) == 24 == m["sweep"]["n_configs"]
    assert sorted({(c["n_train"], c["width"]) for c in block["configs"]}) == [
        (n, w) for n in (16, 32) for w in (2, 10, 16)]
    assert all(c["batch_size"] == c["n_train"] and c["epochs"] == 40 and c["lr"] == 0.01 for c in block["configs"])
    # the reported means and standard errors are those of the runs (independent numpy computation)
    for s, (tr, te) in enumerate([(m["train_loss"], m["test_loss"]),
                                  (m["n_large"]["train_loss"], m["n_large"]["test_loss"])]):
        runs = curves["test_runs"][s]
        np.testing.assert_allclose(te, runs.mean(axis=1), rtol=1e-9)
        np.testing.assert_allclose(curves["train_runs"][s].mean(axis=1), tr, rtol=1e-9)
    np.testing.assert_allclose(m["test_loss_se"], curves["test_runs"][0].std(axis=1, ddof=1) / 2, rtol=1e-9)
    # final losses are the last curve points (both evaluated on the same params)
    np.testing.assert_allclose(curves["train"][:, -1], m["train_loss"], rtol=1e-5)
    # (d)'s paired differences: mean and s.e. of the per-run differences N = 32 minus N = 16
    for w, diff, se in zip(d["widths"], d["difference"], d["difference_se"]):
        i = m["widths"].index(w)
        delta = curves["test_runs"][1, i] - curves["test_runs"][0, i]
        np.testing.assert_allclose([diff, se], [delta.mean(), delta.std(ddof=1) / 2], rtol=1e-9)


def test_convergence_against_numpy(smoke):
    """The settling window, the relative change averaged over the runs that have not interpolated, the settled
    fractions and the interpolated widths, recomputed from the per-run training curves of curves.npz."""
    m, curves, _, _ = smoke
    conv, epochs = m["convergence"], curves["epochs"]
    runs = curves["train_curve_runs"].astype(np.float64)  # (size, width, run, record)
    assert m["diverged"] == 0  # (a diverged run is NaN in the saved curves)
    np.testing.assert_allclose(np.nanmean(runs, axis=2)[0], curves["train"], rtol=1e-12)
    j = max(i for i, e in enumerate(epochs) if e <= 0.9 * epochs[-1])  # the last record in the first 90 %
    assert conv["window"] == [int(epochs[j]), int(epochs[-1])] and conv["floor"] == 1e-3
    start, end = runs[..., j], runs[..., -1]
    rel = (start - end) / end
    live = end >= 1e-3  # not interpolated
    expect = [[rel[s, w][live[s, w]].mean() if live[s, w].any() else np.nan for w in range(len(m["widths"]))]
              for s in range(2)]
    # the experiment divides in float32 (the curves' dtype): 2 roundings of 6e-8 each
    np.testing.assert_allclose(np.asarray(conv["rel_change"], float), expect, rtol=1e-6)
    settled = ((np.abs(rel) < conv["settle_tol"]) | ~live).mean(axis=2)
    np.testing.assert_allclose(conv["settled_fraction"], settled)
    assert conv["unsettled_widths"] == [[w for w, f in zip(m["widths"], row) if f < 1] for row in settled]
    interpolated = (~live).mean(axis=2)
    np.testing.assert_allclose(conv["interpolated_fraction"], interpolated)
    assert conv["interpolated_widths"] == [[w for w, f in zip(m["widths"], row) if f == 1] for row in interpolated]


def test_convergence_figure_marks_interpolated_widths(smoke, monkeypatch):
    m, curves, out, _ = smoke
    m = copy.deepcopy(m)
    conv = m["convergence"]
    conv["rel_change"] = [[None] * len(m["widths"]), [0.1] * (len(m["widths"]) - 1) + [None]]
    conv["interpolated_widths"] = [m["widths"], [m["widths"][-1]]]
    drawn = []
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: drawn.append(fig))
    plots.convergence(m, curves, out)
    lines = {line.get_label(): line for line in drawn[0].axes[0].get_lines()}
    assert list(lines[f"N = {curves['sizes'][0]}: every run interpolated (train MSE < 0.001)"].get_xdata()) == \
        m["widths"]
    assert list(lines[f"N = {curves['sizes'][1]}: every run interpolated (train MSE < 0.001)"].get_xdata()) == \
        [m["widths"][-1]]
    plt.close(drawn[0])


def test_a_partly_diverged_sweep_is_named_marked_and_never_compared(smoke, monkeypatch):
    # the widest width's runs at N = n_small all diverged (as the engine leaves them: null means, counted)
    m, curves, out, _ = smoke
    m = copy.deepcopy(m)
    n = m["n_runs"]
    m["test_loss"][-1] = m["train_loss"][-1] = m["test_loss_at_max_width"] = None
    m["diverged"], m["diverged_runs"] = n, [[0, 0, n], [0, 0, 0]]
    d = m["more_data_hurts"]
    d["test_loss_n_small"][-1] = d["difference"][-1] = None
    d["verdict"][-1] = stats.verdict(float("nan"), float("nan")).verdict
    answers = rep.report(m)
    assert f"{n} of the 24 runs diverged" in answers[2].text and f"M = 16: {n} / 0" in answers[2].text
    assert "cannot be compared: every run of one of them diverged" in answers[3].text
    assert "no significant difference" not in answers[3].text.split("M = 16")[-1]
    drawn = []
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: drawn.append(fig))
    plots.double_descent(m, curves, out)
    crosses = [line for line in drawn[0].axes[1].get_lines() if "diverged" in line.get_label()]
    assert len(crosses) == 1 and list(crosses[0].get_xdata()) == [16]
    plt.close(drawn[0])


def test_report_entries_complete_and_listed_code_ran(smoke):
    m, _, _, ran = smoke
    entries = check_report_entries(rep, m, ran)
    assert {i for e in entries for i in e["ids"]} == {
        "001 CA1(a)", "001 CA1(b.1)", "001 CA1(b.2)", "001 CA1(b.3)", "001 CA1(c.1)", "001 CA1(c.2)", "001 CA1(d)"}
    assert sorted({c for e in entries for c in e.get("code", [])}) == sorted(CODE)


def _with_d(m, diff, se):
    m = copy.deepcopy(m)
    d = m["more_data_hurts"]
    d["difference"], d["difference_se"] = [diff] * len(d["widths"]), [se] * len(d["widths"])
    d["verdict"] = [stats.verdict(diff, se).verdict] * len(d["widths"])
    return m


def test_more_data_wording_follows_the_uncertainty(smoke):
    m = smoke[0]

    def text(mm):
        return rep.report(mm)[3].text

    inside = text(_with_d(m, 0.05, 0.04))  # a "hurts" inside 2 s.e. is no finding
    assert "no significant difference" in inside and "more data hurts" not in inside
    assert "more data hurts" in text(_with_d(m, 0.05, 0.01))
    assert "more data helps" in text(_with_d(m, -0.05, 0.01))
    none = copy.deepcopy(m)
    none["more_data_hurts"]["hurts_widths"] = []
    assert "is not demonstrated" in text(none)
    some = copy.deepcopy(m)
    some["more_data_hurts"]["hurts_widths"] = [10]
    assert "raises the test MSE significantly" in text(some)
    # the sentence about the widest picked width follows that width's own verdict, never a fixed "helps"
    assert "far_beyond" in some["more_data_hurts"]["roles"]
    for diff, se, words in [(-0.05, 0.01, "the larger set helps again"),
                            (-0.0086, 0.013, "do not differ significantly"), (0.05, 0.01, "still raises the test MSE")]:
        worded = _with_d(some, diff, se)
        assert words in text(worded), (diff, se)
        assert "as classical intuition says" not in text(worded) or (diff < 0 and abs(diff) > 2 * se)


def test_speed_and_peak_wording():
    fast = rep.speed_sentence({"10": {"mean": None, "se": None}, "50": {"mean": 1600.0, "se": 100.0},
                                          "100": {"mean": 700.0, "se": 50.0}})
    assert fast.startswith("Larger models train faster")
    tie = rep.speed_sentence({"50": {"mean": 800.0, "se": 100.0}, "100": {"mean": 700.0, "se": 50.0}})
    assert "no significant difference" in tie
    assert "Only M = 100" in rep.speed_sentence({"10": {"mean": None, "se": None},
                                                            "100": {"mean": 700.0, "se": 50.0}})
    m = {"peak_test_loss": 1.4, "peak_test_loss_se": 0.05, "test_loss_at_max_width": 0.58,
         "test_loss_at_max_width_se": 0.01}
    assert rep.peak_key(m) == "peak_descent"
    assert rep.peak_key({**m, "test_loss_at_max_width": 1.35}) == "peak_no_descent"


def test_checks_can_fail(smoke):
    m = copy.deepcopy(smoke[0])
    m["test_loss"] = [0.2] + m["test_loss"][1:]  # below R_t beyond sampling error: test data leaked
    assert not rep.checks(m)[0].passed
    m = copy.deepcopy(smoke[0])
    m.update(peak_test_loss=1.0, peak_test_loss_se=0.1, test_loss_at_max_width=0.95, test_loss_at_max_width_se=0.1,
             peak_width=10)
    assert not next(c for c in rep.checks(m) if "peak" in c.check).passed
    m.update(threshold_width=4, counting_width=20.5)
    assert not next(c for c in rep.checks(m) if "counting" in c.check).passed


def test_teacher_optimal_error_is_noise_variance():
    # Monte Carlo: E[(y - g(x))^2] over 200k outputs = noise^2 within 4 standard errors
    x, y = teacher.sample(7, 25_000)
    r = (y - teacher.g(x)) ** 2
    assert abs(r.mean() - teacher.optimal_test_mse()) < 4 * r.std() / np.sqrt(r.size)


def test_teacher_draws_are_independent_and_nested():
    d = teacher.draws(3, 2, 20, 5)
    assert d["x_train"].shape == (2, 20, 8) and d["y_test"].shape == (2, 5, 8)
    assert not np.allclose(d["x_train"][0], d["x_train"][1])
    np.testing.assert_array_equal(d["x_train"][0], teacher.dataset(3, 20, 5)["x_train"])
