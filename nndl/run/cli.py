"""Command-line plumbing shared by every experiment: common flags, validation, exit codes.

A user error (bad flag value, impossible setting, unreadable or malformed
file) ends with exit status 2 and ONE line on stderr, never a traceback.
A bug still raises (exit 1) and is recorded in the run folder's status.json.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import math
import os
import signal
import sys
import tempfile
import threading
import traceback
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax

from nndl.errors import ConfigError, NndlError
from nndl.run import runio, scale
from nndl.run.flags import INT32_MAX, NONE, add_config_flags

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
    parser.add_argument("--out", type=out_path, default=None, help=f"run folder (default runs/{name}/)")
    parser.add_argument("--seed", type=seed_int, default=0, help=f"PRNG seed in [0, {INT32_MAX}] (default 0)")
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


def warn_diverged(name: str, diverged: int, total: int, detail: str = "") -> None:
    """One warning line on stderr when configs diverged (their numbers are null in metrics.json); the run goes on
    and exits 0. `detail` names them, e.g. " (lr 1e+30)"."""
    if diverged:
        what = ("every config diverged" if diverged == total else f"{diverged} of {total} configs diverged")
        print(f"{name}: warning: {what}{detail}; their numbers are null in metrics.json", file=sys.stderr)


# ------------------------------------------------------------- signals
class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C's KeyboardInterrupt so the run stops the same way (status, resumable)."""


EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 128 + signal.SIGTERM  # the shell's codes for Ctrl-C and SIGTERM


@contextlib.contextmanager
def sigterm_raises():
    """Inside the block SIGTERM raises `Terminated` (main thread only; elsewhere signals cannot be caught)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated("SIGTERM")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# ------------------------------------------------------------- pre-flight
@dataclass(frozen=True)
class Estimate:
    """What a run will need, computed from its config before any work: peak host memory and arithmetic.

    Attributes:
      bytes: peak memory in bytes (every config's carry at its padded size, the data, the recorded curves).
      flops: floating-point operations of the whole run.
      what: the sizes the estimate rests on, e.g. "7960 configs x padded width 200^2 x 20000 epochs".
    """

    bytes: float
    flops: float
    what: str

    @classmethod
    def sweep(cls, what: str, *, configs: int, params: int, examples: float, steps: float, activations: float = 0,
              recorded: float = 0, data_bytes: float = 0) -> Estimate:
        """A sweep of `configs` float32 training runs of `params` parameters (padded) each, `steps` steps over
        `examples` examples per step: memory for parameters, gradients and two optimiser moments (4 x params),
        `activations` and `recorded` floats per config, plus the data; work 6 FLOPs per parameter and example
        (forward and backward)."""
        return cls(bytes=4.0 * configs * (4 * params + activations + recorded) + data_bytes,
                   flops=6.0 * params * examples * steps * configs, what=what)

    @staticmethod
    def dense_params(sizes: Sequence[int]) -> int:
        """Weights and biases of a stack of dense layers of these sizes (inputs first)."""
        return sum(a * b + b for a, b in itertools.pairwise(sizes))

    def __add__(self, other: Estimate) -> Estimate:
        return Estimate(self.bytes + other.bytes, self.flops + other.flops, f"{self.what}; {other.what}")


WARN_HOURS = 1.0  # a run estimated to take longer prints a one-line warning (and runs)
FLOPS_PER_SECOND = {"cpu": 5e9, "gpu": 2e13, "tpu": 5e13}  # per CPU core / per accelerator: rough sustained rates


def host_memory() -> int | None:
    """Physical memory of this machine in bytes (None where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _size(n: float) -> str:
    return f"{n / 2**30:.3g} GiB" if n >= 2**30 else f"{n / 2**20:.3g} MiB"


def preflight(prog: str, estimate: Estimate, *, memory: int | None = None) -> None:
    """Refuses (UserError, exit 2) a run whose estimate cannot fit in this machine's memory; warns in one line
    on stderr for one that will take hours (by the device's rough FLOP rate), and lets it run."""
    memory = host_memory() if memory is None else memory
    if memory is not None and estimate.bytes > memory:
        raise UserError(f"{estimate.what} needs about {_size(estimate.bytes)} of memory, more than this "
                        f"machine's {_size(memory)}; shrink the sweep")
    devices = jax.devices()
    platform = devices[0].platform
    units = (os.cpu_count() or 1) if platform == "cpu" else len(devices)  # cores share the CPU devices
    rate = FLOPS_PER_SECOND.get(platform, FLOPS_PER_SECOND["gpu"]) * units
    hours = estimate.flops / rate / 3600
    if hours > WARN_HOURS:
        print(f"{prog}: warning: {estimate.what} is about {estimate.flops:.2g} FLOPs: roughly {hours:.3g} h "
              f"on this {platform} (an estimate); running", file=sys.stderr)


# ------------------------------------------------------------- the run
def out_path(text: str) -> Path:
    """--out: any non-empty path (an empty one would silently mean the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("empty path (give a folder, e.g. --out runs/x)")
    return Path(text)


def seed_int(text: str) -> int:
    """--seed: an integer in [0, 2^31 - 1] (PRNG keys take 32 bits: a larger seed would alias a smaller one)."""
    value = _number(int, text, "an integer")
    if not 0 <= value <= INT32_MAX:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, {INT32_MAX}], got {value}")
    return value


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
    estimate: Callable[[dict], Estimate] | None = None,
) -> int:
    """Parses flags, checks the run folder, writes config.json, runs, writes metrics.json and status.json.

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
      estimate: `estimate(config) -> Estimate` of memory and work, checked by `preflight` before any work.

    Every user error (a bad flag, an unusable --out, a folder in use by another live run, a run that cannot
    fit in memory, a bad data file found by `run`) is exit status 2 and ONE line on stderr; warnings raised
    before it are dropped (numpy/JAX warnings never precede the line; after a finished run they are shown).
    Ctrl-C and SIGTERM stop the run with status.json "interrupted" (exit 130 and 143); a rerun of the same
    command resumes from the last checkpoint.

    Returns:
      The exit status: 0 ok, 2 user error, 130/143 interrupted; a bug propagates as an exception.
    """
    prog = f"experiments.{name}"
    parser = make_parser(name, doc)
    if keys is not None:
        add_config_flags(parser, get_config(False), get_config(True), keys)
    if add_arguments is not None:
        add_arguments(parser)
    caught: list[warnings.WarningMessage] = []
    try:
        with sigterm_raises(), warnings.catch_warnings(record=True) as caught:
            status = _run(name, prog, parser, get_config, run, validate, estimate, argv)
    except NndlError as e:
        print_error(prog, str(e))
        return EXIT_USER_ERROR
    except KeyboardInterrupt as e:
        print_error(prog, f"interrupted ({'SIGTERM' if isinstance(e, Terminated) else 'Ctrl-C'}); status.json says "
                          f"so, and the same command resumes from the last checkpoint")
        return EXIT_TERMINATED if isinstance(e, Terminated) else EXIT_INTERRUPTED
    except BaseException:
        _show(caught)
        raise
    _show(caught)
    return status


def _show(caught: list[warnings.WarningMessage]) -> None:
    for w in caught:  # after the run: nothing comes before a user error's one line
        warnings.showwarning(w.message, w.category, w.filename, w.lineno, w.file, w.line)


def _run(name, prog, parser, get_config, run, validate, estimate, argv) -> int:
    args = parser.parse_args(argv)
    config = config_from_args(get_config(args.full), args)
    config["mode"] = "full" if args.full else "quick"
    if validate is not None:
        validate(config)
    out = Path(args.out) if args.out is not None else Path("runs") / name
    scale.setup(args)  # the process group and the compilation cache, before any JAX computation
    if estimate is not None:
        preflight(prog, estimate(config))
    if not scale.is_main():
        # every process computes everything; only process 0 writes the run folder
        with tempfile.TemporaryDirectory(prefix=f"nndl-{name}-p{jax.process_index()}-") as private:
            run(config, Path(private))
        return 0
    runio.check_folder(out)
    folder = runio.RunFolder(out, name)
    notice = folder.acquire()
    try:
        if notice is not None:
            print(f"{prog}: note: {notice}", file=sys.stderr)
        folder.start(config)
        try:
            metrics = run(config, out)
            runio.write_metrics(out, metrics)
        except BaseException as e:
            line = traceback.format_exception_only(type(e), e)[-1].strip()
            folder.finish("interrupted" if isinstance(e, KeyboardInterrupt) else "failed", line)
            raise
        folder.finish("ok")
    finally:
        folder.release()
    print(f"{name}: done in {folder.wall_time_s:.1f} s -> {out}/metrics.json")
    return 0
