import argparse

import pytest

from nndl.run import cli, runio
from tests.helpers import run_module


def _run(argv, tmp_path, run=None):
    def get_config(full):
        return {"width": 100 if full else 10, "lr": 0.1, "seed": 0}

    def add(parser):
        parser.add_argument("--width", type=cli.positive_int, default=None)
        parser.add_argument("--lr", type=cli.positive_float, default=None)

    return cli.run_experiment("toy", doc="Toy.\nmore", get_config=get_config,
                              run=run or (lambda c, out: {"w": c["width"], "lr": c["lr"]}),
                              add_arguments=add, argv=[*argv, "--out", str(tmp_path)])


def test_flags_override_mode_defaults(tmp_path):
    assert _run(["--full", "--lr", "0.5", "--seed", "3"], tmp_path) == 0
    cfg = runio.read_json(tmp_path / "config.json")["config"]
    assert cfg == {"width": 100, "lr": 0.5, "seed": 3, "mode": "full"}
    assert runio.read_json(tmp_path / "metrics.json") == {"w": 100, "lr": 0.5}
    assert runio.read_json(tmp_path / "status.json")["status"] == "ok"


@pytest.mark.parametrize("argv, needle", [
    (["--width", "0"], "--width: must be a positive integer"),
    (["--lr", "-1"], "--lr: must be > 0"),
    (["--lr", "nan"], "--lr: 'nan' is not a finite number"),
    (["--width", "abc"], "--width: 'abc' is not an integer"),
    (["--quick", "--full"], "not allowed with argument"),
    (["--bogus"], "unrecognized arguments: --bogus"),
])
def test_user_errors_exit_2_with_one_line(argv, needle, tmp_path, capsys):
    assert _run(argv, tmp_path) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err and "Traceback" not in err


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
    bad = run_module("experiments", "frobnicate")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
