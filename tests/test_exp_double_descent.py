import numpy as np

from experiments import double_descent
from nndl import runio, teacher
from nndl.models import padded_mlp
from tests.helpers import run_module


def test_smoke_double_descent(tmp_path):
    argv = ["--widths", "2,10,16", "--epochs", "40", "--n-train", "16", "--lr", "0.01", "--buckets", "1",
            "--out", str(tmp_path)]
    assert double_descent.main(argv) == 0
    m = runio.read_json(tmp_path / "metrics.json")
    for key in ("R_t", "widths", "train_loss", "test_loss", "threshold_width", "threshold_params",
                "more_data_hurts", "epochs_to_1e-3"):
        assert key in m
    assert m["R_t"] == teacher.NOISE**2 and m["widths"] == [2, 10, 16]
    assert len(m["train_loss"]) == len(m["test_loss"]) == 3
    assert m["params"] == [padded_mlp.param_count(w, d_in=8, d_out=8, depth=2) for w in (2, 10, 16)]
    assert m["more_data_hurts"]["widths"][-1] == 16 and len(m["more_data_hurts"]["test_loss_n_large"]) == len(
        m["more_data_hurts"]["widths"])
    for fig in ("training_curves.png", "double_descent.png", "more_data.png"):
        assert (tmp_path / fig).stat().st_size > 10_000
    assert not list(tmp_path.glob("checkpoint_*.npz"))  # removed once the sweep completed
    curves = runio.load_curves(tmp_path / "curves.npz")
    # final losses are the curve values after the last epoch (both evaluated on the same params)
    np.testing.assert_allclose(curves["train"][:, -1], m["train_loss"], rtol=1e-5)
    assert {s["question"][:3] for s in double_descent.report(m)} == {"(a)", "(b)", "(c)", "(d)"}


def test_teacher_optimal_error_is_noise_variance():
    # Monte Carlo: E[(y - g(x))^2] over 200k outputs = noise^2 within 4 standard errors
    x, y = teacher.sample(7, 25_000)
    r = (y - teacher.g(x)) ** 2
    assert abs(r.mean() - teacher.optimal_test_mse()) < 4 * r.std() / np.sqrt(r.size)


def test_thresholds():
    assert double_descent.threshold([2, 4, 8, 16], np.array([0.3, 0.2, 0.005, 0.001]), 1e-2) == 8
    assert double_descent.threshold([2, 4], np.array([0.3, 0.2]), 1e-2) is None


def test_bad_flags_exit_2(tmp_path, capsys):
    for args in (["--widths", "0,4"], ["--widths", "10:2"], ["--batch-size", "500"], ["--lr", "-0.1"],
                 ["--buckets", "0"]):
        assert double_descent.main([*args, "--out", str(tmp_path)]) == 2, args
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("experiments.double_descent: error: "), err


def test_cli_subprocess_bad_flag_exits_2(tmp_path):
    proc = run_module("experiments.double_descent", "--epochs", "zero", "--out", str(tmp_path))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
