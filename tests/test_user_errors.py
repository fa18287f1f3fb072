"""ONE table of hostile and clumsy inputs across the twelve experiments: bad flags, bad data files, unusable run
folders, faults (corrupt checkpoints, locked and stale folders, divergence, signals).

Every row runs an experiment's `main([...])` in this process and asserts the exit status, exactly the expected
stderr lines (one: the error, the warning or the notice), no traceback, and that the run folder is never half
written or mismatched: it does not exist (refused before any work), or it holds config.json with status "ok" and
metrics.json, or status "failed"/"interrupted" and no metrics.json; never a lock or a temporary file left behind.
Signals and a kill -9 during a checkpoint write need a process of their own (`tests.fault_script`): a handful of
subprocess tests at the end.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from experiments import ORDER, load
from nndl import data
from nndl.run import cli, runio
from nndl.sweep import checkpoint
from tests.helpers import ROOT, run_module, toy_experiment
from tests.test_linear_models_age_data import BAD_FILES, write_age_files

# tiny runs (a few seconds each) for the rows that get past the flags
DD = ["--widths", "2,4", "--epochs", "6", "--n-train", "8", "--n-train-large", "12", "--seeds", "1", "--data-draws",
      "1", "--buckets", "1", "--n-test", "20", "--chunk-epochs", "3", "--curve-widths", "4"]
HET = ["--steps", "20", "--hidden", "4", "--lr-grid", "0.01,0.1", "--arch-widths", "4", "--arch-weight-decays", "0",
       "--arch-seeds", "1", "--lr-seeds", "1"]
QUAD = ["--n", "4", "--N", "9", "--rank-deficient-N", "2", "--n-times", "60", "--n-directions", "50", "--seed", "3"]
DIST = ["--widths", "2,6", "--epochs", "24", "--n-train", "12", "--n-train-large", "24", "--lr", "0.01", "--buckets",
        "1", "--seeds", "2", "--data-draws", "1", "--n-test", "40", "--chunk-epochs", "8", "--curve-widths", "6"]


@dataclass
class Case:
    """One hostile input. `argv` goes to experiments.<name>.main with `--out OUT` appended (OUT = tmp_path/"out",
    not yet existing) unless `out` gives another; `setup(tmp_path)` prepares files and returns more flags;
    `lines` is the expected number of stderr lines, each containing `needle` where given one per line in order."""

    name: str
    argv: list[str]
    code: int = cli.EXIT_USER_ERROR
    needle: str | tuple[str, ...] = ""
    setup: Callable[[Path], list[str]] | None = None
    out: Callable[[Path], str] | None = None
    lines: int = 1
    check: Callable[[Path, str], None] | None = field(default=None, repr=False)
    foreign_lock: bool = False  # the folder's lock belongs to another (killed) process, not to this run


# ------------------------------------------------------------------------------------------------ files
def _csv(text: str, name: str = "bad.csv", encoding: str = "utf-8") -> Callable[[Path], list[str]]:
    def setup(tmp: Path) -> list[str]:
        (tmp / name).write_bytes(text.encode(encoding))
        return ["--data", str(tmp / name)]
    return setup


def _shipped_csv_with(values: dict[int, float]) -> Callable[[Path], list[str]]:
    """data/x_y.csv with some y values replaced."""
    def setup(tmp: Path) -> list[str]:
        columns = data.load_csv(data.X_Y_PATH)
        for i, v in values.items():
            columns["y"][i] = v
        rows = "".join(f"{float(x)!r},{float(y)!r}\n" for x, y in zip(columns["x"], columns["y"]))
        (tmp / "data.csv").write_text("x,y\n" + rows)
        return ["--data", str(tmp / "data.csv")]
    return setup


def _age_files(override: dict) -> Callable[[Path], list[str]]:
    def setup(tmp: Path) -> list[str]:
        return ["--data-dir", str(write_age_files(tmp / "data", **override))]
    return setup


def _checkpoint(content: Callable[[bytes], bytes]) -> Callable[[Path], list[str]]:
    """A checkpoint.npz in the run folder, made from a valid one by `content` (truncate, empty, garbage)."""
    def setup(tmp: Path) -> list[str]:
        out = tmp / "out"
        out.mkdir()
        checkpoint.save(out / "checkpoint.npz", "fingerprint", {"w": np.ones((4, 3), np.float32)}, 1)
        path = out / "checkpoint.npz"
        path.write_bytes(content(path.read_bytes()))
        return []
    return setup


def _corrupt_set_aside(out: Path, err: str) -> None:
    assert (out / "checkpoint.npz.corrupt").is_file() and not (out / "checkpoint.npz").exists()


# ------------------------------------------------------------------------------------------------ folders
def _out_in_file(tmp: Path) -> str:
    (tmp / "file").write_text("not a folder")
    return str(tmp / "file" / "out")


def _dir_named(name: str) -> Callable[[Path], str]:
    def out(tmp: Path) -> str:
        (tmp / "out" / name).mkdir(parents=True)
        return str(tmp / "out")
    return out


def _read_only(tmp: Path) -> str:
    (tmp / "ro").mkdir()
    os.chmod(tmp / "ro", 0o555)
    return str(tmp / "ro")


def _locked_by_live_process(tmp: Path) -> list[str]:
    """Another process holds the folder's lock (and wrote its pid), as a live run does."""
    out = tmp / "out"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(out / runio.LOCK)!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\nos.write(fd, str(os.getpid()).encode())\n"
        "print('locked', flush=True)\ntime.sleep(120)\n")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    HOLDERS.append(holder)
    return []


def _stale_lock(tmp: Path) -> list[str]:
    """A lock file left by a run that died (kill -9): its pid no longer runs."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp / "out").mkdir()
    (tmp / "out" / runio.LOCK).write_text(dead.stdout.strip() + "\n")
    return []


HOLDERS: list[subprocess.Popen] = []


def _previous_run(argv: list[str]) -> Callable[[Path], list[str]]:
    """A finished run with other flags already in the folder (its metrics, figures and status say "ok")."""
    def setup(tmp: Path) -> list[str]:
        assert load("double_descent").main([*argv, "--out", str(tmp / "out")]) == 0
        return []
    return setup


def _results_match_config(out: Path, err: str) -> None:
    config = runio.read_json(out / "config.json")["config"]
    metrics = runio.read_json(out / "metrics.json")
    status = runio.read_json(out / "status.json")
    assert (metrics["lr"], metrics["epochs"]) == (config["lr"], config["epochs"]) == (0.001, 6)
    assert status["status"] == "ok" and "double_descent.png" in status["outputs"]


def _dd_all_diverged(out: Path, err: str) -> None:
    from experiments.double_descent import report

    m = runio.read_json(out / "metrics.json")
    assert m["diverged"] == 4 and m["test_loss"] == [None, None] and m["peak_width"] is None
    assert len(report.report(m)) == 4


def _monkeypatched(name: str, value) -> Callable[[Path], list[str]]:
    def setup(tmp: Path) -> list[str]:
        PATCHES.append((name, value))
        return []
    return setup


PATCHES: list[tuple[str, object]] = []

# ------------------------------------------------------------------------------------------------ the table
CASES: dict[str, Case] = {}


def add(label: str, case: Case) -> None:
    assert label not in CASES, label
    CASES[label] = case


# -- flags every experiment has: the seed is PRNG-key sized, --out is never empty, flags are known
for _name in ORDER:
    add(f"{_name}:seed-2^31", Case(_name, ["--seed", "2147483648"],
                                   needle="--seed: must be an integer in [0, 2147483647]"))
    add(f"{_name}:seed-2^63+1", Case(_name, ["--seed", "9223372036854775809"], needle="--seed: must be an integer in"))
    add(f"{_name}:seed-negative", Case(_name, ["--seed", "-1"], needle="--seed: must be an integer in [0, 2147483647]"))
    add(f"{_name}:out-empty", Case(_name, [], needle="--out: empty path", out=lambda tmp: ""))
    add(f"{_name}:out-inside-a-file", Case(_name, [], needle="a component of the path is a file", out=_out_in_file))
    add(f"{_name}:unknown-flag", Case(_name, ["--bogus"], needle="unrecognized arguments: --bogus"))
    add(f"{_name}:quick-and-full", Case(_name, ["--quick", "--full"], needle="not allowed with argument"))

# -- the harness's hand-written validators (a toy experiment)
for _label, _argv, _needle in [
        ("width-0", ["--width", "0"], "--width: must be a positive integer"),
        ("lr-negative", ["--lr", "-1"], "--lr: must be > 0"),
        ("lr-nan", ["--lr", "nan"], "--lr: 'nan' is not a finite number"),
        ("width-abc", ["--width", "abc"], "--width: 'abc' is not an integer"),
        ("quick-and-full", ["--quick", "--full"], "not allowed with argument"),
        ("unknown-flag", ["--bogus"], "unrecognized arguments: --bogus")]:
    add(f"toy:{_label}", Case("toy", _argv, needle=_needle))

# -- issue 16 (1): integers never wrap; seeds never alias
add("double_descent:epochs-2^32+1", Case("double_descent", [*DD, "--epochs", "4294967297"],
                                         needle="--epochs: must be an integer in [1, 1e+07], got 4294967297"))
add("double_descent:epochs-1e10", Case("double_descent", [*DD, "--epochs", "10000000000"], needle="--epochs: must be"))
add("double_descent:epochs-3e9", Case("double_descent", [*DD, "--epochs", "3000000000"], needle="--epochs: must be"))
add("implicit_reg:epochs-2^32+1", Case("implicit_reg", ["--epochs", "4294967297"], needle="--epochs: must be"))
add("adam:seed-2^32+5", Case("adam", ["--seed", "4294967301"], needle="--seed: must be an integer in [0, 2147483647]"))
# (2) every config diverges: valid null metrics, exit 0, one warning line; noise beyond its bound
add("double_descent:lr-1e30-all-diverged", Case("double_descent", [*DD, "--lr", "1e30"], code=0,
                                                needle="warning: every config diverged (lr 1e+30)",
                                                check=_dd_all_diverged))
add("double_descent:noise-1e20", Case("double_descent", ["--noise", "1e20"], needle="--noise: must be a number in [0"))
add("double_descent:noise-1e300", Case("double_descent", ["--noise", "1e300"], needle="--noise: must be a number in"))
# (3) a corrupt checkpoint is set aside with one line and the run starts afresh
for _label, _content in [("truncated", lambda b: b[: len(b) // 2]), ("empty", lambda b: b""),
                         ("random-bytes", lambda b: np.random.default_rng(0).bytes(len(b))),
                         ("crc-damaged", lambda b: b[:-40] + bytes(x ^ 0xFF for x in b[-40:-20]) + b[-20:])]:
    add(f"double_descent:checkpoint-{_label}", Case("double_descent", DD, code=0, setup=_checkpoint(_content),
                                                    needle="could not be read", check=_corrupt_set_aside))
# (4) implicit_reg: a diverged learning rate is flagged, the run goes on: test_exp_implicit_reg
# test_a_diverged_learning_rate_is_flagged_and_excluded and test_all_diverged_writes_null_metrics_and_exits_0
add("implicit_reg:weight-decay-0", Case("implicit_reg", ["--weight-decays", "0"], needle="--weight-decays: must be"))
# (5) heteroscedastic: NaN never a "good fit" and data of 1e30 values diverge (exit 0, one warning line): the smoke
# run's compiled programs serve them in test_exp_heteroscedastic (test_lr_1e30_is_reported_diverged_never_a_good_fit,
# test_data_of_1e30_values_diverge_and_still_plot); values beyond float32 are refused
add("heteroscedastic:csv-1e300", Case("heteroscedastic", HET, setup=_shipped_csv_with({3: 1e300}),
                                      needle="line 5: '1e+300' in column 'y' is beyond ±3.4e+38"))
# (6) run folders: another live run's folder is refused; a dead run's lock is taken over; a rerun with other flags
# never leaves one run's config beside another's results
add("double_descent:out-locked-by-a-live-run", Case("double_descent", DD, setup=_locked_by_live_process,
                                                    needle="is in use by another run (pid ", foreign_lock=True))
add("double_descent:out-stale-lock", Case("double_descent", DD, code=0, setup=_stale_lock,
                                          needle="note: took over"))
add("double_descent:rerun-with-other-flags", Case("double_descent", DD, code=0, lines=0,
                                                  setup=_previous_run([*DD, "--lr", "0.002", "--epochs", "3"]),
                                                  check=_results_match_config))
# (8) unusable --out: refused with one line before any work
add("double_descent:out-read-only-proc", Case("double_descent", DD, needle="cannot write in this folder",
                                              out=lambda tmp: "/proc"))
add("double_descent:out-config-json-is-a-folder", Case("double_descent", DD, out=_dir_named("config.json"),
                                                       needle="config.json is a folder"))
add("double_descent:out-metrics-json-is-a-folder", Case("double_descent", DD, out=_dir_named("metrics.json"),
                                                        needle="metrics.json is a folder"))
add("double_descent:out-status-json-is-a-folder", Case("double_descent", DD, out=_dir_named("status.json"),
                                                       needle="status.json is a folder"))
if os.geteuid() != 0:  # root writes into a read-only folder anyway (the /proc row covers root)
    add("double_descent:out-read-only", Case("double_descent", DD, needle="cannot write in this folder",
                                             out=_read_only))
# (9) lipschitz --pair-lr 1e30 (exit 0, null + flag, one warning line): test_exp_lipschitz
# test_a_diverged_pair_search_is_reported_as_null_with_a_flag; backprop's diverging SGD (--lr 0.9, exit 2 before
# issue 16, now flagged and exit 0): test_exp_backprop test_diverged_sgd_is_flagged_null_and_exits_0;
# linear_models in one chunk: test_exp_linear_models test_report_when_the_grid_ran_in_one_chunk
add("linear_models:npy-1e300", Case("linear_models", [], setup=_age_files(
    {"age_regression_Xtr.npy": np.full((20, 4, 4), 1e300)}), needle="value(s) beyond ±3.4e+38"))
for _case, (_override, _message) in sorted(BAD_FILES.items()):
    add(f"linear_models:age-files-{_case}", Case("linear_models", [], setup=_age_files(_override), needle=_message))
# (10) resource bounds: a huge list refused before it is built, an endless file not read forever, a sweep that
# cannot fit refused with its estimate, one that takes hours warned about (and run)
add("double_descent:widths-2:1e9", Case("double_descent", ["--widths", "2:1000000000"],
                                        needle="--widths: must be an integer in [1, 4096], got 1000000000"))
add("implicit_reg:lrs-1e6-values", Case("implicit_reg", ["--lrs", ",".join(["0.1"] * 100_001)],
                                        needle="100001 values; at most 100000"))
add("double_descent:widths-100000", Case("double_descent", ["--widths", "100000"], needle="--widths: must be"))
add("heteroscedastic:data-dev-zero", Case("heteroscedastic", HET, setup=lambda tmp: ["--data", "/dev/zero"],
                                          needle="/dev/zero: more than 67108864 bytes"))
add("double_descent:memory", Case("double_descent", ["--widths", "4096", "--seeds", "1000", "--data-draws", "1000"],
                                  needle="2000000 configs x padded widths up to 4096^2 x 6000 epochs needs about"))
add("implicit_reg:memory", Case("implicit_reg", ["--width", "4096", "--depth", "64", "--seeds", "1000",
                                                 "--data-draws", "1000"], needle="of memory, more than this machine's"))
add("heteroscedastic:memory", Case("heteroscedastic", ["--steps", "10000000", "--lr-seeds", "1000"],
                                   needle="of memory, more than this machine's"))
add("adam:memory", Case("adam", ["--n-test", "10000000", "--n-features", "10000", "--hidden", "4096,4096"],
                        needle="of memory, more than this machine's"))
add("linear_models:memory", Case("linear_models", ["--lrs", ",".join(f"{v:g}" for v in np.geomspace(1e-6, 1, 1000)),
                                                   "--alphas", ",".join(f"{v:g}" for v in np.geomspace(1e-6, 1, 1000)),
                                                   "--synthetic-side", "512", "--synthetic-train-rows", "3000",
                                                   "--synthetic-test-rows", "100"],
                                 needle="of memory, more than this machine's"))
add("double_descent:hours-warned", Case("double_descent", DD, code=0, setup=_monkeypatched("cpu", 1e-3),
                                        needle="warning: 4 configs x padded widths up to 4^2 x 6 epochs is about"))
# (11) a CSV with a byte-order mark is read (its header names the columns; test_data has the values); repeated
# list values are refused where they make no sense
add("heteroscedastic:csv-bom-bad-number", Case("heteroscedastic", HET, setup=_csv("\ufeffx,y\n1,2\n3,oops\n"),
                                               needle="line 3: 'oops' in column 'y' is not a number"))
add("implicit_reg:lrs-repeated", Case("implicit_reg", ["--lrs", "0.1,0.1"], needle="--lrs: has repeated values"))
add("double_descent:widths-repeated", Case("double_descent", ["--widths", "2,2,4"],
                                           needle="--widths: has repeated values"))

# -- moved from the experiments' own tests: the same cases, the same expectations
for _name, _argv, _needle in [
    # adam
    ("adam", ["--b2", "1"], "--b2: must be in [0, 1)"),
    ("adam", ["--probe-lambda", "0.5", "--lambdas", "0.1,1"], "--probe-lambda: 0.5 is not one of --lambdas"),
    ("adam", ["--batch-size", "500"], "--batch-size: 500 exceeds the 160 training points"),
    ("adam", ["--long-steps", "10"], "--long-steps: must be >= 50"),
    ("adam", ["--lambdas", "0,1"], "--lambdas: must be a number > 0 and <= 1e+06, got 0"),
    ("adam", ["--lambdas", "0.1,0.1"], "--lambdas: has repeated values"),
    ("adam", ["--dim", "-3"], "--dim: must be an integer in [1, 1e+07], got -3"),
    ("adam", ["--epochs", "1000001"], "--epochs: must be an integer in [1, 1e+06], got 1000001"),
    ("adam", ["--feature-scales", "1"], "--feature-scales: give the two ends, got 1 values"),
    ("adam", ["--train-share", "1"], "--train-share 1: leaves no test points"),
    # autodiff
    ("autodiff", ["--b", "0"], "--b: must be a number > 0 and <= 1e+06 (log b is undefined for b <= 0), got 0"),
    ("autodiff", ["--b", "inf"], "--b: must be a number > 0 and <= 1e+06 (log b is undefined for b <= 0), got inf"),
    ("autodiff", ["--b", "-1"], "--b: must be a number > 0 and <= 1e+06 (log b is undefined for b <= 0), got -1"),
    ("autodiff", ["--x", "nan"], "--x: must be a number in [-1e+06, 1e+06], got nan"),
    ("autodiff", ["--x", "4"], "--x 4: y(x) or dy/dx overflows float64"),
    ("autodiff", ["--a", "30"], "--a 30 --b 3: z or its derivatives overflow"),
    ("autodiff", ["--jac-big", "0"], "--jac-big: must be an integer in [1, 100000], got 0"),
    ("autodiff", ["--jac-square", "10001"], "--jac-square: must be an integer in [1, 10000], got 10001"),
    ("autodiff", ["--jac-repeats", "2.5"], "--jac-repeats: must be an integer in [1, 1000], got '2.5'"),
    # backprop
    ("backprop", ["--flop-grid", "1,2"], "--flop-grid: '1,2' is not I,O,K,L,B"),
    ("backprop", ["--flop-grid", "4,2,1,0,3"], "--flop-grid: L of '4,2,1,0,3' must be an integer in [1, 4096], got 0"),
    ("backprop", ["--flop-grid", "16,4,2,32,8;16,4,99,32,8"],
     "--flop-grid: K of '16,4,99,32,8' must be an integer in [1, 32]"),
    ("backprop", ["--grad-cases", "3,1,1,4,elu"], "--grad-cases: psi of '3,1,1,4,elu' must be one of "),
    ("backprop", ["--lr", "1.5"], "--lr 1.5: must be < 1"),
    ("backprop", ["--lr", "-0.1"], "--lr: must be a number > 0, got -0.1"),
    ("backprop", ["--steps", "0"], "--steps: must be an integer in [1, 1e+07], got 0"),
    ("backprop", ["--n-points", "1000001"], "--n-points: must be an integer in [1, 1e+06], got 1000001"),
    # double_descent
    ("double_descent", ["--widths", "0,4"], "--widths: must be an integer in [1, 4096], got 0"),
    ("double_descent", ["--widths", "10:2"], "'10:2': stop 2 < start 10"),
    ("double_descent", ["--batch-size", "500"], "--batch-size 500 exceeds --n-train 100"),
    ("double_descent", ["--lr", "-0.1"], "--lr: must be a number > 0, got -0.1"),
    ("double_descent", ["--buckets", "0"], "--buckets: must be an integer in [1, 64], got 0"),
    ("double_descent", ["--n-train-large", "50"], "--n-train-large 50 must exceed --n-train 100"),
    ("double_descent", ["--data-draws", "0"], "--data-draws: must be an integer in [1, 1000], got 0"),
    ("double_descent", ["--epochs", "zero"], "--epochs: must be an integer in [1, 1e+07], got 'zero'"),
    # double_descent's process flags (from test_distributed)
    ("double_descent", [*DIST, "--coordinator", "127.0.0.1:1234"], "go together"),
    ("double_descent", [*DIST, "--coordinator", "nohost", "--num-processes", "2", "--process-id", "0"],
     "is not HOST:PORT"),
    ("double_descent", [*DIST, "--coordinator", "127.0.0.1:1", "--num-processes", "2", "--process-id", "2"],
     "must be below"),
    ("double_descent", [*DIST, "--distributed", "--coordinator", "127.0.0.1:1", "--num-processes", "2",
                        "--process-id", "0"], "exclude"),
    ("double_descent", [*DIST, "--max-configs-per-call", "0"], "--max-configs-per-call"),
    # gradients_depth
    ("gradients_depth", ["--depths", "0"],
     "--depths: must be an integer in [1, 200] (one padded stack holds them all), got 0"),
    ("gradients_depth", ["--depths", "5,300"],
     "--depths: must be an integer in [1, 200] (one padded stack holds them all), got 300"),
    ("gradients_depth", ["--scales", "-1"], "--scales: must be a number > 0 and <= 16"),
    ("gradients_depth", ["--scales", "50"],
     "--scales: must be a number > 0 and <= 16 (ReLU networks overflow float32 beyond), got 50"),
    ("gradients_depth", ["--width", "0"], "--width: must be an integer in [1, 4096], got 0"),
    ("gradients_depth", ["--batch", "100001"], "--batch: must be an integer in [1, 100000], got 100001"),
    ("gradients_depth", ["--activations", "relu,elu"], "--activations: must be one of"),
    # heteroscedastic
    ("heteroscedastic", ["--train-fraction", "1.5"], "--train-fraction: must be a number > 0 and <= 0.99, got 1.5"),
    ("heteroscedastic", ["--steps", "5"], "(a warm-up needs 10 steps), got 5"),
    ("heteroscedastic", ["--lr", "-1"], "--lr: must be a number > 0"),
    ("heteroscedastic", ["--hidden", "0,4"], "--hidden: must be an integer in [1, 4096], got 0"),
    ("heteroscedastic", ["--arch-activations", "relu,swish"], "--arch-activations: must be one of"),
    ("heteroscedastic", ["--fail-ratio", "0.9"], "--fail-ratio: must be a number in [1, 1e+06], got 0.9"),
    ("heteroscedastic", ["--fail-ratio", "1"], "--fail-ratio: must be > 1"),
    ("heteroscedastic", ["--lr-grid", "0.1,0.1"], "--lr-grid: has repeated values"),
    # implicit_reg
    ("implicit_reg", ["--batch-size", "101"], "--batch-size 101 exceeds N = 100"),
    ("implicit_reg", ["--lrs", "0.1,-1"], "--lrs: must be a number > 0, got -1"),
    ("implicit_reg", ["--weight-decays", "x"], "--weight-decays: must be a number > 0 and <= 1e+06, got 'x'"),
    ("implicit_reg", ["--depth", "0"], "--depth: must be an integer in [1, 64], got 0"),
    ("implicit_reg", ["--data-draws", "0"], "--data-draws: must be an integer in [1, 1000], got 0"),
    # init
    ("init", ["--draws", "1"],
     "--draws: must be an integer in [2, 1e+07] (at least 2 draws for a standard error), got 1"),
    ("init", ["--layers", "500"],
     "--layers: must be an integer in [1, 100] (2^L overflows float32 beyond ~127), got 500"),
    ("init", ["--sigma2", "-1"], "--sigma2: must be a number > 0 and <= 1e+06, got -1"),
    ("init", ["--m", "0"], "--m: must be an integer in [1, 10000], got 0"),
    ("init", ["--m", "10001"], "--m: must be an integer in [1, 10000], got 10001"),
    ("init", ["--factors", "1,4"], "--factors: must be a number > 0 and <= 2 (factor^L overflows float32"),
    ("init", ["--factors", "1,1"], "--factors: has repeated values: 1,1"),
    ("init", ["--smooth-sigma2", "0.5"], "--smooth-sigma2: need at least two weight variances to measure a slope"),
    # linear_models
    ("linear_models", ["--lrs", "0.1,-1"], "--lrs"), ("linear_models", ["--val-fraction", "1.5"], "--val-fraction"),
    ("linear_models", ["--batch-sizes", "0"], "--batch-sizes"), ("linear_models", ["--epochs", "2,2"], "repeated"),
    ("linear_models", ["--logistic-steps", "10"], "--logistic-steps"),
    ("linear_models", ["--alphas", "nan"], "--alphas"),
    ("linear_models", ["--data-dir", "/no/such/folder"], "no such folder"),
    ("linear_models", ["--synthetic-train-rows", "40", "--synthetic-side", "2", "--batch-sizes", "64"],
     "exceeds the 32 training rows"),
    ("linear_models", ["--epochs", "100001"], "--epochs: must be an integer in [1, 100000], got 100001"),
    ("linear_models", ["--synthetic-train-rows", "100000", "--synthetic-side", "512"],
     "would hold 2.69e+10 floats; at most 1e+09"),
    ("linear_models", ["--mae-outlier-shift", "8,4"],
     "--mae-outlier-shift: give low,high with low < high, got 8.0,4.0"),
    # lipschitz
    ("lipschitz", ["--bn-momentum", "1"], "--bn-momentum must be < 1"),
    ("lipschitz", ["--bn-batch", "1"],
     "--bn-batch: must be an integer in [2, 100000] (a batch of one has zero variance), got 1"),
    ("lipschitz", ["--depths", "0,2"],
     "--depths: must be an integer in [1, 64] (2^64 overflows float32 bounds), got 0"),
    ("lipschitz", ["--depths", "1,100"],
     "--depths: must be an integer in [1, 64] (2^64 overflows float32 bounds), got 100"),
    ("lipschitz", ["--pair-lr", "-1"], "--pair-lr: must be a number > 0, got -1"),
    ("lipschitz", ["--dim", "0"], "--dim: must be an integer in [1, 4096], got 0"),
    ("lipschitz", ["--n-iter", "100001"], "--n-iter: must be an integer in [1, 100000], got 100001"),
    ("lipschitz", ["--bn-momentum", "2"], "--bn-momentum: must be a number in [0, 1], got 2"),
    # quadratic
    ("quadratic", ["--n", "0"], "--n: must be an integer in [2, 1000] (a rank-deficient case needs n > 1), got 0"),
    ("quadratic", ["--n-directions", "1000001"], "--n-directions: must be an integer in [1, 1e+06], got 1000001"),
    ("quadratic", ["--n", "4", "--N", "3"], "--N must be >= --n"),
    ("quadratic", ["--n", "4", "--N", "8", "--rank-deficient-N", "4"], "--rank-deficient-N must be < --n"),
    ("quadratic", ["--rk4-h", "3"],
     "--rk4-h: must be a number > 0 and <= 2.5 (RK4 is unstable beyond λ dt ≈ 2.79), got 3"),
    ("quadratic", ["--gd-h", "0.5,-1"], "--gd-h: must be a number > 0 and <= 10, got -1"),
    ("quadratic", ["--gd-h", "0.5,0.5"], "--gd-h: has repeated values"),
    ("quadratic", ["--horizon", "nan"], "--horizon: must be a number > 0 and <= 1e+06, got nan"),
    ("quadratic", ["--n-times", "5"], "--n-times: must be an integer in [10, 100000] (to fit a decay rate), got 5"),
    ("quadratic", [*QUAD, "--gd-h", "1e-7"], "steps would be needed"),  # found after the spectrum, inside run()
    # sgd_noise
    ("sgd_noise", ["--ns", "1,10"], "--ns: must be an integer in [2, 100000], got 1"),
    ("sgd_noise", ["--batch-sizes", "2,1000"],
     "--batch-sizes: must be an integer in [1, 999] (below the 1000 examples"),
    ("sgd_noise", ["--batch-sizes", "4"], "--batch-sizes: need at least two"),
    ("sgd_noise", ["--ks", "1,300"], "batch size 1200 must be below the 1000 examples"),
    ("sgd_noise", ["--trials", "1"],
     "--trials: must be an integer in [2, 1e+08] (at least 2 draws for a standard error)"),
    ("sgd_noise", ["--base-lr", "0"], "--base-lr: must be a number > 0, got 0"),
]:
    add(f"{_name}:{' '.join(_argv)[-60:]}", Case(_name, _argv, needle=_needle))
# heteroscedastic's bad data files (the file named, and the line)
for _text, _needle in [("x,y\n1,2\n3,oops\n", "line 3: 'oops' in column 'y' is not a number"),
                       ("u,v\n1,2\n", "line 1: missing column(s) 'x', 'y'"),
                       ("x,y\n" + "1,2\n" * 20 + "inf,1\n", "line 22: 'inf' in column 'x' is not finite")]:
    add(f"heteroscedastic:csv-{_needle[:24]}", Case("heteroscedastic", [], setup=_csv(_text), needle=_needle))


def _assert_folder_consistent(out: Path, before: set[str] | None, foreign_lock: bool = False) -> None:
    """Never half written or mismatched: absent (refused before any work), untouched (a folder that existed with the
    names `before`), or finished and complete, or marked failed/interrupted without results; no lock (but another
    process's) and no temporary file left."""
    if not out.is_dir():
        return
    names = {p.name for p in out.iterdir()} - ({runio.LOCK} if foreign_lock else set())
    if before is not None and names == before:
        return  # a folder the case set up, refused and left untouched
    assert runio.LOCK not in names and not [n for n in names if n.endswith(".tmp")], names
    assert names, "an empty run folder was created"
    status = runio.read_json(out / "status.json")
    assert "config.json" in names
    if status["status"] == "ok":
        assert "metrics.json" in names and json.loads((out / "metrics.json").read_text())
    else:
        assert status["status"] in ("failed", "interrupted") and "metrics.json" not in names, status


# numpy 2.4's np.load leaves the file of a damaged .npz open when it raises (a ResourceWarning at garbage collection);
# nndl.sweep.checkpoint.load calls it on the corrupt checkpoints of these rows (reading the bytes first and loading
# from io.BytesIO would close it: left to the lead, nndl/sweep is shared)
NPZ_LEAK = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.mark.parametrize("label", [pytest.param(k, marks=NPZ_LEAK) if "checkpoint-" in k else k for k in CASES])
def test_hostile_case(label, tmp_path, capsys, monkeypatch):
    case = CASES[label]
    extra = case.setup(tmp_path) if case.setup is not None else []
    for name, value in PATCHES:
        monkeypatch.setitem(cli.FLOPS_PER_SECOND, name, value)
    PATCHES.clear()
    out_text = case.out(tmp_path) if case.out is not None else str(tmp_path / "out")
    out = Path(out_text) if out_text else None
    before = {p.name for p in out.iterdir()} - {runio.LOCK} if out is not None and out.is_dir() else None
    argv = [*case.argv, *extra, "--out", out_text]
    capsys.readouterr()
    try:
        code = toy_experiment(argv) if case.name == "toy" else load(case.name).main(argv)
    finally:
        while HOLDERS:
            holder = HOLDERS.pop()
            holder.kill()
            holder.wait()
            holder.stdout.close()
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert code == case.code, err
    assert len(lines) == case.lines and "Traceback" not in err, err
    needles = (case.needle,) if isinstance(case.needle, str) else case.needle
    for line, needle in zip(lines, needles):
        assert needle in line, err
    if case.code == cli.EXIT_USER_ERROR:
        assert lines[0].startswith(f"experiments.{case.name}: error: "), err
    if out is not None and out_text != "/proc":
        _assert_folder_consistent(out, before, case.foreign_lock)
    if case.check is not None:
        case.check(out, err)


def test_the_table_covers_every_experiment():
    assert {c.name for c in CASES.values()} == {*ORDER, "toy"}
    assert len(CASES) >= 200


def test_every_numeric_key_declares_its_range():
    """Bounds from one place: every numeric config key has a Key with a lower bound (or > 0) and an upper bound,
    except learning rates (any finite positive rate may be tried: a diverging one is reported as diverged)."""
    for name in ORDER:
        module = load(name)
        for key, default in module.get_config(False).items():
            spec = module.KEYS.get(key)
            numeric = (isinstance(default, (int, float)) and not isinstance(default, bool)) or (
                isinstance(default, list) and default and isinstance(default[0], (int, float)))
            if key == "seed" or not numeric or (spec is not None and spec.parse is not None):
                continue
            assert spec is not None, f"{name}.{key} has no Key"
            assert spec.lo is not None or spec.positive, f"{name}.{key} has no lower bound"
            assert spec.hi is not None or "lr" in key, f"{name}.{key} has no upper bound"


# ------------------------------------------------------------------------------------------------ signals, kill -9
SIGNAL_DD = [*DD, "--epochs", "12", "--chunk-epochs", "3"]


def _fault(fault: str, name: str, argv: list[str]) -> subprocess.CompletedProcess:
    """The experiment in a process of its own with this process's device count: a checkpoint resumes only into
    the same sweep on as many devices, and the reruns below run here."""
    import jax

    flags = f"--xla_force_host_platform_device_count={len(jax.devices())}"
    return run_module("tests.fault_script", fault, name, *argv, env={"XLA_FLAGS": flags})


def test_sigterm_stops_the_run_resumably_with_one_line(tmp_path, capsys):
    """SIGTERM (a scheduler's or `kill`'s) stops the run like Ctrl-C (tests/test_cli.py covers Ctrl-C in-process):
    status "interrupted", exit 143, one line; the same command resumes from the last checkpoint."""
    out = tmp_path / "out"
    proc = _fault("sigterm", "double_descent", [*SIGNAL_DD, "--out", str(out)])
    assert proc.returncode == cli.EXIT_TERMINATED, proc.stderr
    assert proc.stderr.splitlines() == ["experiments.double_descent: error: interrupted (SIGTERM); status.json says "
                                        "so, and the same command resumes from the last checkpoint"]
    status = runio.read_json(out / "status.json")
    assert status["status"] == "interrupted" and not (out / "metrics.json").exists()
    assert (out / "checkpoint.npz").exists() and not (out / runio.LOCK).exists()
    assert load("double_descent").main([*SIGNAL_DD, "--out", str(out)]) == 0
    err = capsys.readouterr().err  # (a resumed sweep equals an uninterrupted one: tests/test_sweep_processes.py)
    assert err.count("\n") == 1 and "resuming from" in err and "after epoch 3" in err
    _assert_folder_consistent(out, before=None)


def test_kill_during_a_checkpoint_write_then_a_rerun_with_other_flags(tmp_path, capsys):
    out = tmp_path / "out"
    proc = _fault("kill-in-write", "double_descent", [*SIGNAL_DD, "--out", str(out)])
    assert proc.returncode == -signal.SIGKILL
    # the first checkpoint is whole (atomic writes), the second only a temporary file; the folder says "running"
    assert int(runio.load_curves(out / "checkpoint.npz")["chunks_done"]) == 1
    assert [p.name for p in out.glob(".checkpoint.npz.*.tmp")] and (out / runio.LOCK).exists()
    assert runio.read_json(out / "status.json")["status"] == "running" and not (out / "metrics.json").exists()
    # a rerun with other flags: the dead run's lock is taken over, its temporary file removed, and the folder
    # ends with this run's config beside this run's results
    assert load("double_descent").main([*SIGNAL_DD, "--lr", "0.002", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "took over" in err and "resuming" not in err  # another sweep: no resume
    assert runio.read_json(out / "config.json")["config"]["lr"] == 0.002
    assert runio.read_json(out / "metrics.json")["lr"] == 0.002
    _assert_folder_consistent(out, before=None)
    assert not list(out.glob("checkpoint*"))


def test_a_finished_sweep_is_kept_until_the_run_ends(tmp_path, capsys):
    """adam runs two sweeps: SIGTERM during the second keeps the first's checkpoint, so the rerun resumes it
    (at its last epoch: nothing redone) instead of training it again."""
    out = tmp_path / "out"
    argv = ["--dim", "50", "--long-steps", "60", "--lambdas", "0.1", "--probe-lambda", "0.1", "--hidden", "4",
            "--decay-steps", "30", "--n-train", "20", "--n-test", "20", "--n-points", "40", "--epochs", "600",
            "--batch-size", "8", "--out", str(out)]
    proc = _fault("sigterm:SGD_vs_Adam", "adam", argv)
    assert proc.returncode == cli.EXIT_TERMINATED, proc.stderr
    assert (out / "checkpoint_AdamW_vs_L2.npz").exists() and (out / "checkpoint_SGD_vs_Adam.npz").exists()
    assert load("adam").main(argv) == 0
    err = capsys.readouterr().err
    assert "AdamW vs L2: resuming from" in err and "after epoch 30" in err
    assert not list(out.glob("checkpoint*"))


def test_cli_subprocess_bad_flag_and_bad_file_exit_2_with_one_line(tmp_path):
    """The same contract through a real process (module entry point, JAX start-up, stderr)."""
    proc = run_module("experiments.double_descent", "--epochs", "zero", "--out", str(tmp_path / "dd"))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    folder = write_age_files(tmp_path / "data", **BAD_FILES["nan"][0])
    proc = run_module("experiments.linear_models", "--data-dir", str(folder), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "age_regression_Xte.npy: 160 non-finite value(s)" in proc.stderr
    assert not (tmp_path / "dd").exists()
    assert ROOT.is_dir()
