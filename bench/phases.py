"""Where an experiment's wall time goes: start-up, imports, each sweep (compile vs run), evaluations after the
sweep, plots and files, for `python -m experiments.<name>` exactly as a user runs it.

Run:
    python bench/phases.py double_descent --quick            # any flags of the experiment
    python bench/phases.py implicit_reg --quick --epochs 500

Prints one JSON object: per phase the wall seconds and the process CPU seconds (user + system, all threads; on a
shared machine CPU seconds move less with the load than wall seconds), the compile events JAX reports inside each
sweep (trace, lowering to MLIR, XLA compile) and the engine's own timings (init, per-chunk). The experiment runs
in this process (`main(argv)`); the phases are timed by wrapping the functions its run module calls, so nothing in
the experiment changes. Python's own start-up (`python -c pass`) is measured in a separate process and reported
beside the rest.
"""

from __future__ import annotations

import time

T0 = time.perf_counter()

import json  # noqa: E402  (imports after T0: their time is part of the start-up measured here)
import os  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class Phases:
    """Accumulates wall and CPU seconds per phase name; `wrap(owner, attr, name)` times every call of owner.attr."""

    def __init__(self):
        self.rows: dict[str, dict] = {}
        self.events: dict[str, float] = {}

    def add(self, name: str, wall: float, cpu: float, **extra) -> None:
        row = self.rows.setdefault(name, {"wall_s": 0.0, "cpu_s": 0.0, "calls": 0})
        row["wall_s"] += wall
        row["cpu_s"] += cpu
        row["calls"] += 1
        for k, v in extra.items():
            row.setdefault(k, []).append(v)

    def wrap(self, owner, attr: str, name: str, extra=None) -> None:
        fn = getattr(owner, attr)

        def timed(*args, **kwargs):
            before = dict(self.events)
            w, c = time.perf_counter(), cpu_s()
            out = fn(*args, **kwargs)
            details = {} if extra is None else extra(out)
            compiled = {k.rsplit("/", 1)[-1]: round(v - before.get(k, 0.0), 3) for k, v in self.events.items()
                        if k.startswith("/jax/core/compile/") and v != before.get(k, 0.0)}
            if compiled:
                details["compile"] = compiled
            self.add(name, time.perf_counter() - w, cpu_s() - c, **details)
            return out

        setattr(owner, attr, timed)


def sweep_details(res) -> dict:
    t = res.engine.timings
    return {"init_s": round(t["init_s"], 3), "chunk_s": [round(x, 3) for x in t["chunk_s"]],
            "configs": len(res.grid["width"]), "buckets": [[b[0], b[-1]] for b in res.buckets]}


def python_startup() -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - t


def main() -> None:
    name, *argv = sys.argv[1:]
    phases = Phases()
    w, c = time.perf_counter(), cpu_s()
    import importlib

    import jax

    jax.monitoring.register_event_duration_secs_listener(
        lambda event, secs, **kw: phases.events.__setitem__(event, phases.events.get(event, 0.0) + secs))
    package = importlib.import_module(f"experiments.{name}")
    run_module = importlib.import_module(f"experiments.{name}.run")  # what main() imports lazily
    import matplotlib.pyplot  # noqa: F401  (plots import it lazily; count it as start-up)

    from nndl import train
    from nndl.run import runio
    phases.add("imports (jax, nndl, the experiment, matplotlib)", time.perf_counter() - w, cpu_s() - c)

    phases.wrap(train, "run_mlp_sweep", "sweep (nndl.train.run_mlp_sweep)", sweep_details)
    if hasattr(run_module, "run_mlp_sweep"):
        phases.wrap(run_module, "run_mlp_sweep", "sweep (nndl.train.run_mlp_sweep)", sweep_details)
    for attr in ("gradient_measures", "held_out_mse"):
        if hasattr(run_module, attr):
            phases.wrap(run_module, attr, f"after the sweep: {attr}")
    phases.wrap(run_module, "plot", "plots")
    for attr in ("save_curves", "write_json", "write_metrics", "write_config"):
        phases.wrap(runio, attr, "files")
    out = Path(tempfile.mkdtemp(prefix=f"profile-{name}-"))
    if "--out" not in argv:
        argv += ["--out", str(out)]
    w, c = time.perf_counter(), cpu_s()
    status = package.main(argv)
    total = {"wall_s": time.perf_counter() - w, "cpu_s": cpu_s() - c}
    known = {k: sum(r["wall_s"] for n, r in phases.rows.items() if not n.startswith("imports")) for k in ("wall_s",)}
    phases.add("other (data, metrics, flags, cache set-up)", total["wall_s"] - known["wall_s"],
               total["cpu_s"] - sum(r["cpu_s"] for n, r in phases.rows.items() if not n.startswith("imports")))
    print(json.dumps({"experiment": name, "argv": argv, "status": status, "python_startup_s": python_startup(),
                      "process_wall_s": time.perf_counter() - T0, "process_cpu_s": cpu_s(),
                      "load_average": os.getloadavg(), "phases": phases.rows}, indent=1))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
