import argparse

import pytest

from experiments import ORDER
from nndl.run import cli, runio
from tests.helpers import run_module, toy_experiment


def _run(argv, tmp_path, run=None):
    return toy_experiment([*argv, "--out", str(tmp_path)], run)


def test_flags_override_mode_defaults(tmp_path):
    assert _run(["--full", "--lr", "0.5", "--seed", "3"], tmp_path) == 0
    cfg = runio.read_json(tmp_path / "config.json")["config"]
    assert cfg == {"width": 100, "lr": 0.5, "seed": 3, "mode": "full"}
    assert runio.read_json(tmp_path / "metrics.json") == {"w": 100, "lr": 0.5}
    assert runio.read_json(tmp_path / "status.json")["status"] == "ok"


def test_user_error_inside_run_is_one_line_and_recorded(tmp_path, capsys):
    def run(config, out):
        raise cli.UserError("data.csv line 3: 'x' is not a number")

    assert _run([], tmp_path, run=run) == 2
    assert capsys.readouterr().err == "experiments.toy: error: data.csv line 3: 'x' is not a number\n"
    assert runio.read_json(tmp_path / "status.json")["status"] == "failed"


def test_bug_inside_run_raises_and_is_recorded(tmp_path):
    def run(config, out):
        raise ZeroDivisionError("oops")

    with pytest.raises(ZeroDivisionError):
        _run([], tmp_path, run=run)
    assert runio.read_json(tmp_path / "status.json")["error"] == "ZeroDivisionError: oops"


@pytest.mark.parametrize("text, expected", [
    ("2:10:2", [2, 4, 6, 8, 10]), ("10,50,100", [10, 50, 100]), ("3:5", [3, 4, 5]), ("7", [7])])
def test_int_list(text, expected):
    assert cli.int_list()(text) == expected


@pytest.mark.parametrize("text", ["10:2", "1:2:3:4", "a,b", "0,1", ""])
def test_int_list_rejects(text):
    with pytest.raises(argparse.ArgumentTypeError):
        cli.int_list()(text)


def test_float_list():
    assert cli.float_list()("0.02, 0.04") == [0.02, 0.04]
    with pytest.raises(argparse.ArgumentTypeError):
        cli.float_list()("0.1,-2")


def test_experiments_lists_and_rejects_unknown_command():
    listing = run_module("experiments")
    assert listing.returncode == 0 and "all" in listing.stdout
    assert all(name in listing.stdout for name in ORDER)
    bad = run_module("experiments", "frobnicate")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


def test_sigterm_and_ctrl_c_stop_the_run_with_status_interrupted(tmp_path, capsys):
    import os
    import signal

    def terminated(config, out):
        runio.save_curves(out / "partial.npz", a=[1.0])
        os.kill(os.getpid(), signal.SIGTERM)  # the handler raises at the next bytecode, inside run
        raise AssertionError("SIGTERM did not stop the run")

    def interrupted(config, out):
        raise KeyboardInterrupt

    for run, code, word in ((terminated, cli.EXIT_TERMINATED, "SIGTERM"),
                            (interrupted, cli.EXIT_INTERRUPTED, "Ctrl-C")):
        assert _run([], tmp_path, run=run) == code
        assert capsys.readouterr().err.splitlines() == [f"experiments.toy: error: interrupted ({word}); status.json "
                                                        f"says so, and the same command resumes from the last "
                                                        f"checkpoint"]
        status = runio.read_json(tmp_path / "status.json")
        assert status["status"] == "interrupted" and not (tmp_path / "metrics.json").exists()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is only installed while running


def test_preflight_refuses_what_cannot_fit_and_warns_for_hours(capsys, monkeypatch):
    estimate = cli.Estimate.sweep("3 configs", configs=3, params=1000, examples=10, steps=100, activations=50,
                                  recorded=10, data_bytes=8)
    assert estimate.bytes == 4 * 3 * (4 * 1000 + 50 + 10) + 8 and estimate.flops == 6 * 1000 * 10 * 100 * 3
    both = estimate + cli.Estimate(1.0, 2.0, "more")
    assert (both.bytes, both.flops, both.what) == (estimate.bytes + 1, estimate.flops + 2, "3 configs; more")
    assert cli.Estimate.dense_params([3, 4, 1]) == 3 * 4 + 4 + 4 * 1 + 1
    with pytest.raises(cli.UserError, match=r"3 configs needs about 0\.0465 MiB of memory, more than this machine's"):
        cli.preflight("experiments.toy", estimate, memory=1000)
    cli.preflight("experiments.toy", estimate, memory=10**9)
    assert capsys.readouterr().err == ""  # minutes at most: no warning
    monkeypatch.setitem(cli.FLOPS_PER_SECOND, "cpu", 1.0)
    cli.preflight("experiments.toy", estimate, memory=10**9)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("experiments.toy: warning: 3 configs is about 1.8e+07 FLOPs")


def test_warnings_never_precede_the_error_line(tmp_path, capsys):
    import warnings

    def bad_data(config, out):
        warnings.warn("overflow encountered in square", RuntimeWarning, stacklevel=1)  # as numpy would
        raise cli.UserError("data.npy: values beyond float32")

    def fine(config, out):
        warnings.warn("something to know", UserWarning, stacklevel=1)
        return {"w": 1}

    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")  # as outside the test suite: warnings are shown, not raised
        assert _run([], tmp_path, run=bad_data) == 2
        assert not shown  # dropped: the one error line is all the user sees
        assert capsys.readouterr().err == "experiments.toy: error: data.npy: values beyond float32\n"
        assert _run([], tmp_path, run=fine) == 0
        assert [str(w.message) for w in shown] == ["something to know"]  # shown once the run has finished


@pytest.mark.parametrize("interrupt", [False, True])
def test_all_runs_every_experiment_in_one_process_and_goes_on_after_a_failure(tmp_path, capsys, monkeypatch,
                                                                               interrupt):
    import types

    import experiments
    from experiments import __main__ as entry

    ran = []

    def fake(name, outcome):
        def main(argv):
            ran.append((name, argv))
            if outcome == "raise":
                raise RuntimeError("boom")
            return outcome
        return types.SimpleNamespace(main=main)

    b = cli.EXIT_INTERRUPTED if interrupt else "raise"
    modules = {"a": fake("a", 0), "b": fake("b", b), "c": fake("c", 0)}
    monkeypatch.setattr(experiments, "available", lambda: list(modules))
    monkeypatch.setattr(experiments, "load", modules.__getitem__)
    monkeypatch.setattr(entry, "build_report", lambda root: 0)
    status = entry.run_all(False, tmp_path, 7)
    names = [n for n, _ in ran]
    assert ran[0][1] == ["--quick", "--out", str(tmp_path / "a"), "--seed", "7"]
    err = capsys.readouterr().err
    if interrupt:  # Ctrl-C stops everything: c never runs, no summary
        assert status == cli.EXIT_INTERRUPTED and names == ["a", "b"] and "stopped at b" in err
        assert not (tmp_path / "all.json").exists()
    else:  # a failure is reported in one line and the rest still run
        assert status == 1 and names == ["a", "b", "c"]
        assert "RuntimeError: boom" in err and err.count("\n") == 1
        assert runio.read_json(tmp_path / "all.json")["failed"] == ["b"]
