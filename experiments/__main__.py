"""`python -m experiments` lists the experiments; `all [--quick|--full]` runs them all; `report` rebuilds the report;
`notebooks --out DIR` executes the sheet notebooks.

Each experiment runs (in this one process) into `runs/<name>/`; a failing one is
reported and the rest continue (exit status 1 if any failed). `all` then writes
`runs/all.json` (total wall time, mode) and the report, `runs/report.pdf` and
`runs/report.html`; `report` builds them again from the existing run folders.
`notebooks` executes `notebooks/*.ipynb` (one per sheet) at quick size and writes each
with its outputs as `DIR/<notebook>.ipynb` and `DIR/<notebook>.html` (run folders in
`DIR/<notebook>/`); NNDL_NOTEBOOK_SMOKE=1 runs them at the smoke tests' sizes.
"""

from __future__ import annotations

import datetime
import gc
import sys
import time
from pathlib import Path

import experiments
from nndl.errors import NndlError
from nndl.report import RUN_SUMMARY, write_report
from nndl.run import runio
from nndl.run.cli import EXIT_INTERRUPTED, EXIT_TERMINATED, EXIT_USER_ERROR, Parser, UserError, print_error
from nndl.sweep import programs as sweep_programs


def list_experiments() -> None:
    names = experiments.available()
    width = max(map(len, names), default=0)
    print("nndl experiments (python -m experiments.<name> [--quick|--full] [--out DIR] [--seed N]):")
    for name in names:
        print(f"  {name:<{width}}  {experiments.summary(name)}")
    print("\n  all           run every experiment into runs/<name>/, then build the report")
    print("  report        build runs/report.pdf and runs/report.html from existing run folders")
    print("  notebooks     execute the five sheet notebooks into --out DIR (.ipynb with outputs and .html)")


def run_all(full: bool, root: Path, seed: int) -> int:
    """Runs every experiment in this process, one after the other, as `python -m experiments.<name>` would.

    One process for all of them: Python, JAX and matplotlib start once instead of twelve times (about 5 s each
    on a 2-core CPU). A failing experiment writes its own status and error line and the rest continue; an
    exception that escapes one is reported as its failure. The compiled programs of one experiment are dropped
    before the next (`jax.clear_caches`).
    """
    from nndl.sweep import use_host_devices

    use_host_devices()  # before JAX starts its backend: the sweeps' one CPU device per core
    import jax

    names = experiments.available()
    failed = []
    start = time.perf_counter()
    for i, name in enumerate(names, 1):
        print(f"[{i}/{len(names)}] {name}", flush=True)
        argv = ["--full" if full else "--quick", "--out", str(root / name), "--seed", str(seed)]
        t0 = time.perf_counter()
        try:
            status = experiments.load(name).main(argv)
        except SystemExit as e:  # argparse's --help/errors; never expected here
            status = e.code if isinstance(e.code, int) else 1
        except KeyboardInterrupt:  # Ctrl-C outside the experiment's own handler
            status = EXIT_INTERRUPTED
        except Exception as e:
            print_error(f"experiments.{name}", f"{type(e).__name__}: {e}")
            status = 1
        finally:
            jax.clear_caches()
            sweep_programs.clear()
            gc.collect()
        print(f"[{i}/{len(names)}] {name}: {'ok' if status == 0 else f'FAILED (exit {status})'} "
              f"in {time.perf_counter() - t0:.1f} s", flush=True)
        if status in (EXIT_INTERRUPTED, EXIT_TERMINATED):  # Ctrl-C / SIGTERM: the user wants it to stop
            print(f"all: stopped at {name}; rerun to resume", file=sys.stderr)
            return status
        if status != 0:
            failed.append(name)
    total = time.perf_counter() - start
    print(f"all: {len(names) - len(failed)}/{len(names)} experiments ok in {total:.1f} s"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    runio.write_json(root / RUN_SUMMARY, {
        "mode": "full" if full else "quick", "seed": seed, "experiments": names, "failed": failed,
        "wall_time_s": total, "finished": datetime.datetime.now().isoformat(timespec="seconds")})
    report_status = build_report(root)
    return 1 if failed or report_status else 0


def build_report(root: Path) -> int:
    """Writes root/report.pdf and root/report.html; 0 on success, 2 for an unusable folder, 1 (and one line) if the
    report fails otherwise."""
    start = time.perf_counter()
    try:
        written = write_report(root, experiments.available(), experiments.load)
    except NndlError as e:  # a folder the report cannot be written into: the user's to fix
        print_error("experiments report", str(e))
        return EXIT_USER_ERROR
    except Exception as e:  # the experiments' results stay usable without the report
        print_error("experiments report", f"could not build the report: {type(e).__name__}: {e}")
        return 1
    print(f"report: {written.pdf} ({written.pages} pages), {written.html}, {written.coverage} "
          f"in {time.perf_counter() - start:.1f} s")
    return 0


def run_notebooks(out: Path) -> int:
    """Executes the sheet notebooks into `out` (at the sizes their config cells set); 1 if any cell raised."""
    from nndl.run import nbexec, notebook

    if nbexec.missing():
        raise UserError(f"notebooks need {', '.join(nbexec.missing())}: python -m pip install -e \".[notebooks]\"")
    results = nbexec.execute_all(out, smoke=notebook.smoke())
    return 1 if any(r.errors for r in results) else 0


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m experiments", description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", default="list", help="list (default), all, report or notebooks")
    parser.add_argument("--out", type=Path, default=Path("runs"), help="root folder of run folders (default runs/)")
    parser.add_argument("--seed", type=int, default=0)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="full", action="store_false")
    mode.add_argument("--full", dest="full", action="store_true")
    try:
        args = parser.parse_args(argv)
        if args.command == "list":
            list_experiments()
            return 0
        if args.command == "all":
            return run_all(args.full, args.out, args.seed)
        if args.command == "notebooks":
            return run_notebooks(args.out)
        if args.command == "report":
            if not args.out.is_dir():
                raise UserError(f"--out {args.out}: no such folder of run folders "
                                "(run: python -m experiments all)")
            return build_report(args.out)
        if args.command in experiments.available():
            raise UserError(f"run one experiment with: python -m experiments.{args.command}")
        raise UserError(f"unknown command {args.command!r}; use 'list', 'all', 'report' or 'notebooks'")
    except UserError as e:
        print_error("experiments", str(e))
        return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
