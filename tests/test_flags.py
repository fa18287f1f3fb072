"""Generated flags: a typed --key for every config key, bounds declared once, one-line errors."""

import argparse
import re

import pytest

from experiments import (
    adam,
    autodiff,
    backprop,
    double_descent,
    gradients_depth,
    heteroscedastic,
    implicit_reg,
    init,
    linear_models,
    lipschitz,
    quadratic,
    sgd_noise,
)
from nndl.run import cli
from nndl.run.flags import INT32_MAX, NONE, Key, add_config_flags, rows_parser

CONVERTED = [double_descent, implicit_reg, autodiff, backprop, init, gradients_depth, quadratic, lipschitz, adam,
             sgd_noise, linear_models, heteroscedastic]

QUICK = {"seed": 0, "epochs": 100, "lr": 0.1, "widths": [2, 4], "lrs": [0.1, 0.2], "name": "adam",
         "batch_size": None, "plot": True, "tol": 1e-3}
FULL = {**QUICK, "epochs": 5000}
KEYS = {"epochs": Key("epochs", lo=1, hi=10**6), "lr": Key(positive=True), "widths": Key(lo=1, hi=64),
        "lrs": Key(positive=True, unique=True), "name": Key(choices=("adam", "sgd")),
        "batch_size": Key(kind=int, optional=True, lo=1)}


def parser():
    p = cli.make_parser("demo", "demo")
    add_config_flags(p, QUICK, FULL, KEYS)
    return p


def parse(*argv):
    return cli.config_from_args(QUICK, parser().parse_args(list(argv)))


def test_every_key_gets_a_typed_flag_with_both_defaults_in_help():
    text = parser().format_help()
    for flag in ("--epochs", "--lr", "--widths", "--lrs", "--name", "--batch-size", "--plot", "--tol"):
        assert flag in text
    assert "quick: 100; full: 5000" in text and "default 0.1" in text
    c = parse("--epochs", "7", "--widths", "2:10:4", "--lrs", "0.5,0.25", "--name", "sgd", "--batch-size", "8",
              "--no-plot", "--tol", "1e-5")
    assert c == {**QUICK, "epochs": 7, "widths": [2, 6, 10], "lrs": [0.5, 0.25], "name": "sgd", "batch_size": 8,
                 "plot": False, "tol": 1e-5}
    assert parse()["epochs"] == 100  # unset flags keep the mode's default
    assert parse("--batch-size", "none")["batch_size"] is None and NONE is not None


@pytest.mark.parametrize("argv, message", [
    (["--epochs", "4294967297"], "must be an integer in [1, 1e+06], got 4294967297"),
    (["--epochs", "0"], "must be an integer in [1, 1e+06], got 0"),
    (["--epochs", "ten"], "got 'ten'"),
    (["--lr", "0"], "must be a number > 0, got 0"),
    (["--lr", "nan"], "must be a number > 0"),
    (["--tol", "inf"], "must be a finite number"),
    (["--widths", "2:1000000000"], "in [1, 64], got 1000000000"),
    (["--widths", "0,4"], "in [1, 64]"),
    (["--widths", "10:2"], "stop 2 < start 10"),
    (["--lrs", "0.1,0.1"], "repeated values"),
    (["--name", "rmsprop"], "must be one of adam, sgd"),
    (["--batch-size", "0"], "got 0"),
])
def test_out_of_range_values_are_one_line_user_errors(argv, message):
    with pytest.raises(cli.UserError) as e:
        parser().parse_args(argv)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_integers_default_to_int32_bounds():
    p = argparse.ArgumentParser()
    add_config_flags(p, {"n": 3}, {"n": 3}, {})
    assert p.parse_args(["--n", str(INT32_MAX)]).n == INT32_MAX
    with pytest.raises(SystemExit):
        p.parse_args(["--n", str(INT32_MAX + 1)])


def test_huge_ranges_are_refused_before_they_are_built():
    p = cli.make_parser("demo", "demo")
    add_config_flags(p, {"ws": [1, 2]}, {"ws": [1, 2]}, {})
    with pytest.raises(cli.UserError, match="has 1000000000 values; at most 100000"):
        p.parse_args(["--ws", "1:1000000000"])


def _pairs(text: str) -> list[list[int]]:
    pairs = [[int(v) for v in part.split(",")] for part in text.split(";")]
    if any(len(p) != 2 for p in pairs):
        raise argparse.ArgumentTypeError(f"{text!r} is not a,b;c,d")
    return pairs


def test_structured_keys_use_their_own_parser_and_reasons_follow_the_bounds():
    quick = {"pairs": [[1, 2], [3, 4]], "layers": 5}
    p = cli.make_parser("demo", "demo")
    add_config_flags(p, quick, quick, {"pairs": Key("pairs a,b;...", parse=_pairs),
                                       "layers": Key(lo=1, hi=100, why="2^L overflows float32")})
    assert "default 1,2;3,4" in p.format_help()
    assert cli.config_from_args(quick, p.parse_args(["--pairs", "5,6"]))["pairs"] == [[5, 6]]
    with pytest.raises(cli.UserError, match="'1,2,3' is not a,b;c,d"):
        p.parse_args(["--pairs", "1,2,3"])
    with pytest.raises(cli.UserError) as e:
        p.parse_args(["--layers", "500"])
    assert "--layers: must be an integer in [1, 100] (2^L overflows float32), got 500" in str(e.value)


def test_rows_parser_checks_each_field_and_the_row_length():
    parse = rows_parser({"I": Key(lo=1, hi=10), "act": Key(choices=("relu", "tanh"))})
    assert parse("3,relu; 10,tanh") == [[3, "relu"], [10, "tanh"]]
    for text, message in (("3", "'3' is not I,act (2 values)"), ("11,relu", "I of '11,relu' must be an integer in "
                                                                            "[1, 10], got 11"),
                          ("3,elu", "act of '3,elu' must be one of relu, tanh"), (";", "empty list of I,act")):
        with pytest.raises(argparse.ArgumentTypeError, match=re.escape(message)):
            parse(text)


def test_undeclared_or_untyped_keys_are_developer_errors():
    with pytest.raises(KeyError):
        add_config_flags(argparse.ArgumentParser(), {"a": 1}, {"a": 1}, {"b": Key()})
    with pytest.raises(TypeError):
        add_config_flags(argparse.ArgumentParser(), {"a": None}, {"a": None}, {})
    with pytest.raises(TypeError):
        add_config_flags(argparse.ArgumentParser(), {"a": {"x": 1}}, {"a": {"x": 1}}, {})


@pytest.mark.parametrize("module", CONVERTED, ids=lambda m: m.NAME)
def test_experiments_have_a_flag_for_every_config_key(module):
    p = cli.make_parser(module.NAME, module.__doc__)
    add_config_flags(p, module.get_config(False), module.get_config(True), module.KEYS)
    dests = {a.dest for a in p._actions}
    hidden = {k for k, key in module.KEYS.items() if key.hidden}
    assert set(module.get_config(False)) - hidden <= dests
    assert set(module.get_config(True)) == set(module.get_config(False))  # no key only --full could set
    p.format_help()  # every help string formats


def _as_text(value) -> str:
    if isinstance(value, (list, tuple)):
        return (";" if value and isinstance(value[0], (list, tuple)) else ",").join(_as_text(v) for v in value)
    return "none" if value is None else repr(value) if isinstance(value, float) else str(value)


@pytest.mark.parametrize("module", CONVERTED, ids=lambda m: m.NAME)
@pytest.mark.parametrize("full", [False, True], ids=["quick", "full"])
def test_every_default_is_inside_its_declared_bounds(module, full):
    # a default its own flag would refuse means a wrong bound (or a wrong default)
    p = cli.make_parser(module.NAME, module.__doc__)
    add_config_flags(p, module.get_config(False), module.get_config(True), module.KEYS)
    config = module.get_config(full)
    for action in p._actions:
        if action.dest in config and action.dest != "seed" and action.type is not None:
            parsed = action.type(_as_text(config[action.dest]))
            assert (None if parsed is NONE else parsed) == config[action.dest], action.dest
    getattr(module, "validate", lambda c: None)(config)  # and the cross-key checks accept both modes


def test_wrapping_epochs_exits_2_in_one_line(tmp_path, capsys):
    # formerly trained ONE epoch and exited 0 with config.json saying 4294967297
    assert double_descent.main(["--epochs", "4294967297", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--epochs" in err and "4294967297" in err
    assert not (tmp_path / "config.json").exists()
