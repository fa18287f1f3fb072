"""The notebooks' side of nndl: run an experiment package from a cell and show what its report shows.

`notebooks/*.ipynb` (one per sheet) call these three functions and hold no maths and no rendering code:

    notebook.setup()                              # first: one CPU device per core, the compilation cache
    config = sgd_noise.get_config()               # the --quick settings
    config.update(trials=4000)                    # the visible line to change a setting
    metrics, out = notebook.run(sgd_noise, config)
    notebook.show(sgd_noise, metrics, out, sheet="004")

`show` renders each `Answer` of the experiment's `report(metrics)` that answers a question of `sheet` as
markdown (its derivation's `$...$` mathematics is typeset by Jupyter), its figures inline, its table as a
table, its generated text and its code listings, then the experiment's `checks(metrics)` as one table of
reference vs measured. The `*_markdown` functions are pure (strings), so they are tested without a kernel.

`NNDL_NOTEBOOK_SMOKE=1` (the environment of the kernel) shrinks every config to `SMOKE[name]`, the sizes of
the experiments' own smoke tests, so CI executes every notebook top to bottom at a small cost;
`NNDL_NOTEBOOK_RUNS` names the folder of the run folders (default `runs/` in the working directory).
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import ModuleType

from nndl.report import Answer, Check, fmt, mathfit
from nndl.report.collect import answers_module, listing
from nndl.run import runio

SMOKE_ENV = "NNDL_NOTEBOOK_SMOKE"  # "1": every notebook runs at its experiments' smoke-test sizes
RUNS_ENV = "NNDL_NOTEBOOK_RUNS"  # the folder that holds the notebooks' run folders (default: runs)
CHECKS_HEADER = ("check", "reference", "measured", "tolerance", "verdict")

# The keys (and values) the experiments' smoke tests shrink (tests/test_exp_<name>.py); seeds stay as configured.
SMOKE: dict[str, dict] = {
    "autodiff": {"jac_big": 6, "jac_square": 3, "jac_hidden": 4, "jac_repeats": 2},
    "backprop": {"flop_grid": [[16, 4, 2, 32, 8]], "batch": 3, "hidden": 5, "steps": 30, "lr": 0.01},
    "init": {"m": 20, "sigma2": 0.05, "draws": 2000, "width": 16, "layers": 6, "prop_draws": 200, "smooth_m": 20,
             "smooth_draws": 20},
    "gradients_depth": {"width": 6, "batch": 2, "depths": [2, 4], "scales": [3.0]},
    "quadratic": {"n": 4, "N": 9, "rank_deficient_N": 2, "n_times": 60, "n_directions": 50},
    "adam": {"dim": 300, "long_steps": 60, "lambdas": [0.01, 0.1], "probe_lambda": 0.1, "hidden": [16, 16],
             "decay_steps": 150, "n_train": 40, "n_test": 200, "n_points": 100, "epochs": 25, "batch_size": 12},
    "heteroscedastic": {"steps": 40, "hidden": [8, 8], "lr_grid": [1e-4, 0.03, 3.0], "arch_widths": [4, 8],
                        "arch_weight_decays": [0.0], "arch_seeds": 2, "lr_seeds": 2},
    "lipschitz": {"dim": 4, "hidden": 6, "depths": [1, 2, 3], "n_inputs": 8, "n_iter": 100, "sn_iter": 200,
                  "n_pairs": 4, "pair_steps": 10, "bn_scales": [0.1, 1.0], "bn_batch": 8, "bn_batches": 60},
    "double_descent": {"widths": [2, 10, 16], "epochs": 40, "n_train": 16, "n_train_large": 32, "lr": 0.01,
                       "n_buckets": 1, "seeds": 2, "data_draws": 2},
    "implicit_reg": {"lrs": [0.05, 0.1], "seeds": 2, "data_draws": 2, "epochs": 30, "wd_epochs": 20, "width": 8,
                     "depth": 2, "batch_size": 25, "weight_decays": [0.001, 0.01, 0.1], "stop_loss": 0.6},
    "sgd_noise": {"trials": 3000, "grad_trials": 400, "hidden": [8, 8], "ns": [10, 100, 1000]},
    "linear_models": {"synthetic_train_rows": 250, "synthetic_test_rows": 100, "synthetic_side": 6,
                      "batch_sizes": [16, 200], "lrs": [0.003, 30.0], "epochs": [1, 3], "alphas": [0.01, 1.0],
                      "chunk_epochs": 1, "loop_per_cell": 0, "mae_steps": 300, "mle_steps": 300,
                      "logistic_steps": 2000},
}


def smoke() -> bool:
    """Whether this kernel runs at smoke size (`NNDL_NOTEBOOK_SMOKE=1`)."""
    return os.environ.get(SMOKE_ENV, "0") not in ("", "0")


def setup() -> None:
    """Before anything computes: one CPU device per core for the sweeps (as `python -m experiments.<name>`
    asks), and JAX's persistent compilation cache, so a rerun of a cell skips XLA compilation.

    At smoke size XLA's optimisations are off: the smoke run shows that every cell runs, and compiling
    dominates it.
    """
    import jax

    from nndl.run import scale
    from nndl.sweep import use_host_devices

    use_host_devices()
    scale.enable_compilation_cache()
    if smoke():
        jax.config.update("jax_disable_most_optimizations", True)


def _name(module: ModuleType) -> str:
    return getattr(module, "NAME", module.__name__.rsplit(".", 1)[-1])


def sized(module: ModuleType, config: dict) -> dict:
    """`config` with the mode the run folder records; shrunk to `SMOKE[name]` under NNDL_NOTEBOOK_SMOKE=1."""
    name = _name(module)
    if smoke():
        return {**config, **SMOKE[name], "mode": "smoke"}
    known = {False: "quick", True: "full"}
    mode = next((m for full, m in known.items() if config == module.get_config(full)), "custom")
    return {**config, "mode": mode}


def run(module: ModuleType, config: dict, out: str | Path | None = None) -> tuple[dict, Path]:
    """Runs one experiment package through its library API, into a run folder like its command line's.

    Args:
      module: the experiment package (`experiments.sgd_noise`).
      config: its settings, from `module.get_config()` with any changes.
      out: the run folder (default `$NNDL_NOTEBOOK_RUNS/<name>`, else `runs/<name>`).

    Returns:
      (metrics, run folder): metrics as `run` returned them; config.json, metrics.json, status.json, curves
      and figures in the folder.

    Raises:
      nndl.run.cli.UserError: an impossible setting (the experiment's `validate`).
    """
    name = _name(module)
    config = sized(module, config)
    module.validate(config)
    folder = Path(out) if out is not None else Path(os.environ.get(RUNS_ENV) or "runs") / name
    folder.mkdir(parents=True, exist_ok=True)
    runio.write_config(folder, config)
    start = time.perf_counter()
    metrics = importlib.import_module(f"{module.__name__}.run").run(config, folder)
    wall = time.perf_counter() - start
    runio.write_metrics(folder, metrics)
    runio.write_json(folder / "status.json", {"name": name, "status": "ok", "error": None, "wall_time_s": wall})
    print(f"{name} ({config['mode']} settings): {fmt.seconds(wall)}, run folder {folder}")
    return runio.read_json(folder / "metrics.json"), folder  # as the report reads it: strict JSON


# --------------------------------------------------------------------------------------------- markdown
def _cell(x) -> str:
    """One markdown table cell: the report's number format, markup made inert, on one line."""
    return prose_markdown(x if isinstance(x, str) else fmt.value(x)).replace("\n", " ")


def table_markdown(rows: Iterable[Sequence], header: Sequence[str] | None) -> str:
    """A markdown table; rows without a header are label/value pairs under an empty header."""
    rows = [list(r) for r in rows]
    width = len(header) if header is not None else max((len(r) for r in rows), default=0)
    head = list(header) if header is not None else [""] * width
    lines = ["| " + " | ".join(_cell(h) for h in head) + " |", "|" + "---|" * width]
    lines += ["| " + " | ".join(_cell(c) for c in r + [""] * (width - len(r))) + " |" for r in rows]
    return "\n".join(lines)


def prose_markdown(text: str) -> str:
    """Report prose as markdown: `$...$` kept for Jupyter to typeset, markdown's markup outside it made inert."""
    pieces = mathfit.spans(text)
    return "".join(f"${p}$" if is_math else _inert(p) for is_math, p in pieces)


def _inert(text: str) -> str:
    for raw, safe in (("*", "\\*"), ("_", "\\_"), ("<", "&lt;"), ("#", "\\#"), ("|", "\\|")):
        text = text.replace(raw, safe)
    return text


def derivation_markdown(derivation: str) -> str:
    """The derivation's lines as paragraphs; a line that is one `$...$` becomes display mathematics."""
    out = []
    for line in derivation.strip().splitlines():
        if line.strip():
            expr = mathfit.display(line)
            out.append(prose_markdown(line.strip()) if expr is None else f"$$\n{expr}\n$$")
    return "\n\n".join(out)


def answer_markdown(answer: Answer) -> tuple[str, str]:
    """(before the figures, after them): the question, ids and derivation; the table, text and code."""
    head = [f"### {prose_markdown(answer.question)}"]
    if answer.ids:
        head.append(f"*Answers {', '.join(answer.ids)}.*")
    if answer.derivation.strip():
        head.append(derivation_markdown(answer.derivation))
    tail = []
    if answer.table:
        tail.append(table_markdown(answer.table, answer.header))
    if answer.text:
        tail.append(prose_markdown(answer.text))
    for name in answer.code:
        code = listing(name)
        tail.append(f"`{code.name}` ({code.where}):\n\n```python\n{code.source.rstrip()}\n```")
    return "\n\n".join(head), "\n\n".join(tail)


def checks_markdown(checks: Sequence[Check], name: str) -> str:
    """The experiment's checks as one table: reference vs measured, tolerance and verdict."""
    passed = sum(c.passed for c in checks)
    rows = [[c.check, c.reference, c.measured, c.tolerance, fmt.verdict(c.passed)] for c in checks]
    return (f"#### Checks of `{name}`: {passed} of {len(checks)} passed\n\n"
            + table_markdown(rows, CHECKS_HEADER))


def for_sheet(answers: Sequence[Answer], sheet: str | None) -> list[Answer]:
    """The answers naming a question of `sheet` ("000"), all of them for None."""
    return [a for a in answers if sheet is None or any(i.split()[0] == sheet for i in a.ids)]


def show(module: ModuleType, metrics: dict, out: str | Path, sheet: str | None = None) -> None:
    """Displays the experiment's answers to `sheet`'s questions (figures inline, a figure once) and its checks."""
    from IPython.display import Image, Markdown, display

    answers = answers_module(module)
    shown: set[str] = set()
    for answer in for_sheet(answers.report(metrics), sheet):
        before, after = answer_markdown(answer)
        display(Markdown(before))
        again = [f for f in answer.figures if f in shown]
        for figure in (f for f in answer.figures if f not in shown):
            display(Image(filename=str(Path(out) / figure)))
            shown.add(figure)
        if again:
            after = f"*Figure {', '.join(again)}: shown above.*\n\n{after}"
        display(Markdown(after))
    display(Markdown(checks_markdown(answers.checks(metrics), _name(module))))
