"""Executes the sheet notebooks (`notebooks/*.ipynb`) top to bottom and writes them with outputs and as HTML.

`python -m experiments notebooks --out DIR` and tests/test_notebooks.py use this; it needs the `[notebooks]`
extra (nbclient, nbformat, nbconvert, ipykernel). Each notebook runs in a fresh kernel whose working folder
is `notebooks/`; its experiments write their run folders into `DIR/<notebook>/<experiment>/`.
"""

from __future__ import annotations

import importlib.util
import os
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path

from nndl.run import runio
from nndl.run.notebook import CHECKS_HEADER, RUNS_ENV, SMOKE_ENV

ROOT = Path(__file__).resolve().parents[2]  # the checkout whose nndl and experiments the kernels import
NOTEBOOKS = ROOT / "notebooks"
CHECKS_MARK = "| " + " | ".join(CHECKS_HEADER) + " |"  # the header line of every rendered checks table


@dataclass(frozen=True)
class Executed:
    """One executed notebook: where it was written, how long it ran and what its outputs hold."""

    source: Path
    ipynb: Path
    html: Path | None
    wall_s: float
    cpu_s: float | None = None  # CPU seconds of the kernel (user + system, all cores): independent of other load
    errors: tuple[str, ...] = ()  # one line per error output (an exception in a cell)
    figures: int = 0  # image/png outputs
    checks_tables: int = 0  # rendered checks tables
    cells: int = 0
    stderr: tuple[str, ...] = field(default=())  # text the cells wrote to stderr (warnings), for the caller to judge


def notebooks(folder: Path = NOTEBOOKS) -> list[Path]:
    """The notebooks in `folder`, in name order (the sheet number leads each name)."""
    return sorted(Path(folder).glob("*.ipynb"))


def _outputs(nb) -> list:
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]


def summarise(nb) -> dict:
    """What an executed notebook's outputs hold: error lines, figures, checks tables, stderr text."""
    outputs = _outputs(nb)
    errors = tuple(f"{o.get('ename', '?')}: {o.get('evalue', '')}" for o in outputs if o.output_type == "error")
    data = [o.get("data", {}) for o in outputs if o.output_type in ("display_data", "execute_result")]
    stderr = tuple(o.get("text", "") for o in outputs if o.output_type == "stream" and o.get("name") == "stderr")
    return {"errors": errors, "figures": sum("image/png" in d for d in data),
            "checks_tables": sum(CHECKS_MARK in d.get("text/markdown", "") for d in data), "stderr": stderr,
            "cells": sum(c.cell_type == "code" for c in nb.cells)}


def execute(source: Path, out: Path, *, smoke: bool = False, timeout: int | None = None, html: bool = True,
            kernel: str = "python3") -> Executed:
    """Runs one notebook in a fresh kernel and writes `out/<name>.ipynb` (with outputs) and `out/<name>.html`.

    Execution stops at the first cell that raises (as Jupyter's "Run All" does); the notebook is written
    with that error in its outputs, so it shows what went wrong.

    Args:
      source: the notebook (outputs, if any, are replaced).
      out: folder for the executed notebook, its HTML and its run folders (`out/<name>/<experiment>/`).
      smoke: run at the experiments' smoke-test sizes (`NNDL_NOTEBOOK_SMOKE=1` in the kernel).
      timeout: seconds one cell may run (None: no limit).
      html: also write the HTML page (nbconvert's lab template; figures embedded).
      kernel: the Jupyter kernel to start.

    Returns:
      The written paths, the wall time and a summary of the outputs.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    source, out = Path(source), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    nb = nbformat.read(source, as_version=4)
    env = {**os.environ, SMOKE_ENV: "1" if smoke else "0", RUNS_ENV: str((out / source.stem).resolve()),
           "NNDL_PROGRESS": "0",  # no progress bars in the stored outputs
           "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel,
                            resources={"metadata": {"path": str(source.parent.resolve())}},
                            extra_arguments=["--IPKernelApp.log_level=ERROR"])  # no start-up chatter on stderr
    start, cpu = time.perf_counter(), _children_cpu()
    stopped = ()  # a failure that leaves no error output: a cell over the timeout, a kernel that died
    try:
        client.execute(env=env)
    except CellExecutionError:
        pass  # the error is in the cell's outputs; summarise() reports it
    except (CellTimeoutError, DeadKernelError) as e:
        stopped = (f"{type(e).__name__}: {' '.join(str(e).split())[:200]}",)
    wall, cpu = time.perf_counter() - start, _children_cpu() - cpu  # the kernel has exited and been reaped
    ipynb = runio.atomic_write_bytes(out / source.name, nbformat.writes(nb).encode())
    page = None
    if html:
        from nbconvert import HTMLExporter

        body, _ = HTMLExporter().from_notebook_node(nb)
        page = runio.atomic_write_bytes(out / f"{source.stem}.html", body.encode())
    summary = summarise(nb)
    summary["errors"] += stopped
    return Executed(source=source, ipynb=ipynb, html=page, wall_s=wall, cpu_s=cpu, **summary)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def missing() -> list[str]:
    """The `[notebooks]` extra's modules that are not installed."""
    return [m for m in ("nbclient", "nbformat", "nbconvert", "ipykernel") if importlib.util.find_spec(m) is None]


def execute_all(out: Path, *, smoke: bool = False, folder: Path = NOTEBOOKS, log=print) -> list[Executed]:
    """Executes every notebook of `folder` into `out` (see `execute`), one line per notebook to `log`, and
    writes `out/notebooks.json` (mode, wall times, errors, figures)."""
    sources = notebooks(folder)
    done = []
    for k, source in enumerate(sources, 1):
        log(f"[{k}/{len(sources)}] {source.name}")
        result = execute(source, out, smoke=smoke)
        verdict = "ok" if not result.errors else "FAILED: " + "; ".join(result.errors)
        log(f"[{k}/{len(sources)}] {source.stem}: {verdict} in {result.wall_s:.1f} s (CPU {result.cpu_s:.1f} s; "
            f"{result.figures} figures, "
            f"{result.checks_tables} checks tables) -> {result.ipynb}, {result.html}")
        done.append(result)
    runio.write_json(Path(out) / "notebooks.json", {
        "mode": "smoke" if smoke else "quick",
        "notebooks": [{"name": r.source.stem, "wall_time_s": r.wall_s, "cpu_time_s": r.cpu_s, "errors": list(r.errors),
                       "figures": r.figures, "checks_tables": r.checks_tables} for r in done]})
    return done
