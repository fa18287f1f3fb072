"""Command-line plumbing shared by every experiment: common flags, validation, exit codes.

A user error (bad flag value, impossible setting, unreadable or malformed
file) ends with exit status 2 and ONE line on stderr, never a traceback.
A bug still raises (exit 1) and is recorded in the run folder's status.json.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jax

from nndl.errors import ConfigError, NndlError
from nndl.run import runio, scale
from nndl.run.flags import NONE, add_config_flags

EXIT_USER_ERROR = 2


class UserError(ConfigError):
    """A mistake in the user's input; reported as one line with exit status 2 (as is any `NndlError`)."""


class Parser(argparse.ArgumentParser):
    """argparse that raises UserError instead of printing usage and exiting."""

    def error(self, message: str):
        raise UserError(message)


# ---------------------------------------------------------------- validators
def _number(kind: type, text: str, what: str):
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def positive_int(text: str) -> int:
    value = _number(int, text, "an integer")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def nonneg_int(text: str) -> int:
    value = _number(int, text, "an integer")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def finite_float(text: str) -> float:
    return _number(float, text, "a number")


def positive_float(text: str) -> float:
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value:g}")
    return value


def nonneg_float(text: str) -> float:
    value = finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value:g}")
    return value


def _list_of(item: Callable[[str], Any], text: str) -> list:
    parts = [p for p in text.replace(" ", "").split(",") if p]
    if not parts:
        raise argparse.ArgumentTypeError("empty list")
    return [item(p) for p in parts]


def int_list(item: Callable[[str], int] = positive_int) -> Callable[[str], list[int]]:
    """Parses `10,50,100` or `start:stop:step` (stop INCLUSIVE, e.g. `2:200:2`)."""

    def parse(text: str) -> list[int]:
        if ":" in text:
            fields = text.split(":")
            if len(fields) not in (2, 3):
                raise argparse.ArgumentTypeError(f"{text!r} is not start:stop[:step]")
            start, stop = item(fields[0]), item(fields[1])
            step = positive_int(fields[2]) if len(fields) == 3 else 1
            if stop < start:
                raise argparse.ArgumentTypeError(f"{text!r}: stop {stop} < start {start}")
            return list(range(start, stop + 1, step))
        return _list_of(item, text)

    return parse


def float_list(item: Callable[[str], float] = positive_float) -> Callable[[str], list[float]]:
    """Parses `0.02,0.04,0.08`."""
    return lambda text: _list_of(item, text)


# ------------------------------------------------------------------- parsing
def make_parser(name: str, doc: str | None) -> argparse.ArgumentParser:
    """Parser with the flags every experiment has: --out, --seed, --quick/--full."""
    summary = (doc or name).strip().splitlines()[0]
    parser = Parser(prog=f"python -m experiments.{name}", description=summary)
    parser.add_argument("--out", type=Path, default=None, help=f"run folder (default runs/{name}/)")
    parser.add_argument("--seed", type=nonneg_int, default=0, help="PRNG seed (default 0)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="full", action="store_false", help="minutes on a laptop CPU (default)")
    mode.add_argument("--full", dest="full", action="store_true", help="the sheet's full settings (accelerator)")
    parser.set_defaults(full=False)
    scale.add_flags(parser, positive_int, nonneg_int)
    return parser


def config_from_args(base: dict, args: argparse.Namespace, common=("seed",)) -> dict:
    """Overrides `base` with every parsed flag whose dest is a config key and whose value is set."""
    config = dict(base)
    for key, value in vars(args).items():
        if value is not None and (key in config or key in common):
            config[key] = None if value is NONE else value  # an optional flag given as `none`
    return config


def print_error(prog: str, message: str) -> None:
    print(f"{prog}: error: {message}", file=sys.stderr)


def run_experiment(
    name: str,
    *,
    doc: str | None,
    get_config: Callable[[bool], dict],
    run: Callable[[dict, Path], dict],
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
    validate: Callable[[dict], None] | None = None,
    argv: Sequence[str] | None = None,
    keys: Mapping[str, Any] | None = None,
) -> int:
    """Parses flags, writes config.json, runs, writes metrics.json and status.json.

    Args:
      name: experiment name (`runs/<name>/` by default).
      doc: module docstring; its first line is the --help summary.
      get_config: `get_config(full) -> dict` of defaults for --quick/--full.
      run: `run(config, out_dir) -> metrics` (the library entry point).
      add_arguments: adds experiment flags; their `dest` must be config keys and
        their default None, so that an unset flag keeps the mode's default.
      validate: raises UserError for impossible combinations of settings.
      argv: arguments (default sys.argv[1:]).
      keys: `nndl.run.flags.Key` declarations; given, every get_config() key gets a generated flag
        (`nndl.run.flags.add_config_flags`) and add_arguments only adds what is not a config key.

    Returns:
      The exit status: 0 ok, 2 user error; a bug propagates as an exception.
    """
    prog = f"experiments.{name}"
    parser = make_parser(name, doc)
    if keys is not None:
        add_config_flags(parser, get_config(False), get_config(True), keys)
    if add_arguments is not None:
        add_arguments(parser)
    try:
        args = parser.parse_args(argv)
        config = config_from_args(get_config(args.full), args)
        config["mode"] = "full" if args.full else "quick"
        if validate is not None:
            validate(config)
        out = Path(args.out) if args.out is not None else Path("runs") / name
        scale.setup(args)  # the process group and the compilation cache, before any JAX computation
        if not scale.is_main():
            # every process computes everything; only process 0 writes the run folder
            with tempfile.TemporaryDirectory(prefix=f"nndl-{name}-p{jax.process_index()}-") as private:
                run(config, Path(private))
            return 0
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(f"--out {out}: cannot create folder ({e.strerror})") from None
        runio.write_config(out, config)
        start = time.perf_counter()
        try:
            metrics = run(config, out)
        except BaseException as e:
            line = traceback.format_exception_only(type(e), e)[-1].strip()
            runio.write_json(out / "status.json", {"name": name, "status": "failed", "error": line,
                                                    "wall_time_s": time.perf_counter() - start})
            raise
        runio.write_metrics(out, metrics)
        runio.write_json(out / "status.json", {"name": name, "status": "ok", "error": None,
                                                "wall_time_s": time.perf_counter() - start})
        print(f"{name}: done in {time.perf_counter() - start:.1f} s -> {out}/metrics.json")
        return 0
    except NndlError as e:
        print_error(prog, str(e))
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print_error(prog, "interrupted")
        return 130
