"""A/B of sweep levers on the work an experiment really does: one block of its `sweep.json`, through
`nndl.train.run_mlp_sweep`, each variant in a fresh process, variants interleaved (A B A B ...).

Run:
    python -m experiments.double_descent --quick --out /tmp/dd      # writes /tmp/dd/sweep.json
    python bench/levers.py /tmp/dd/sweep.json --block 0 --epochs 1000 --n-buckets 5 \
        --variant base: --variant fm:layout=features --repeats 3

A variant is `label:key=value,key=value` of extra `run_mlp_sweep` keyword arguments (values parsed as Python
literals when they parse, else strings); `label:` alone is the code as it stands; the key `xla` adds its value (XLA
flags, `+` for spaces) to XLA_FLAGS, e.g. `noynn:xla=--xla_cpu_experimental_ynn_fusion_type=-individual_dot`.
`--epochs E` caps every config's horizon at E (quicker; the per-epoch cost is unchanged, the log-spaced evaluations
are then denser). Per run it prints wall seconds, process CPU seconds (user + system, all threads: steadier than
wall on a shared machine), XLA compile seconds (JAX's compile events), the engine's init and chunk seconds, and the
mean final training loss (a variant must not change the results). The data are the experiment's
(`nndl.data.teacher.draws` with the sweep's seed 0 and draw count).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def parse_variant(text: str) -> tuple[str, dict]:
    label, _, rest = text.partition(":")
    kwargs = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        try:
            kwargs[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            kwargs[key] = value
    return label, kwargs


def one(path: str, block: int, epochs: int | None, settings: dict, kwargs: dict) -> dict:
    """In this (fresh) process: the block's configs through run_mlp_sweep with `kwargs`."""
    import jax

    from nndl.sweep import use_host_devices

    use_host_devices()
    events: dict[str, float] = {}
    jax.monitoring.register_event_duration_secs_listener(
        lambda name, secs, **kw: events.__setitem__(name, events.get(name, 0.0) + secs))
    import numpy as np

    from nndl.data import teacher
    from nndl.train import run_mlp_sweep

    spec = json.loads(Path(path).read_text())[block]
    configs = spec["configs"]
    n_rows = max(c["n_train"] for c in configs)
    data = teacher.draws(0, spec["n_draws"], n_rows, spec["n_test"])
    grid = {k: np.asarray([c[k] for c in configs]) for k in ("width", "n_train", "batch_size", "epochs", "lr",
                                                               "weight_decay", "stop_loss", "seed", "data")}
    if epochs is not None:
        grid["epochs"] = np.minimum(grid["epochs"], epochs)
    lo, hi = settings.pop("widths", (0, 1 << 30))
    keep = (grid["width"] >= lo) & (grid["width"] <= hi)
    grid = {k: v[keep] for k, v in grid.items()}
    marks = []  # (wall, cpu) after each chunk: the steady state is chunk 2 on (chunk 1 compiles)
    t0, c0 = time.perf_counter(), cpu_s()
    res = run_mlp_sweep(grid, data, depth=spec["depth"], optimizer=spec["optimizer"], loss=spec["loss"],
                        activation=spec["activation"], decay_biases=spec["decay_biases"],
                        on_chunk=lambda k: marks.append((time.perf_counter(), cpu_s())),
                        **{"n_record": spec["n_record"], **settings, **kwargs})
    wall, cpu = time.perf_counter() - t0, cpu_s() - c0
    steady = ({"steady_wall_s": marks[-1][0] - marks[0][0], "steady_cpu_s": marks[-1][1] - marks[0][1],
               "steady_chunks": len(marks) - 1} if len(marks) > 1 else {})
    t = res.engine.timings
    return {"wall_s": wall, "cpu_s": cpu, "compile_s": sum(v for k, v in events.items()
                                                           if k.endswith("backend_compile_duration")),
            "trace_lower_s": sum(v for k, v in events.items() if k.endswith(("jaxpr_trace_duration",
                                                                              "jaxpr_to_mlir_module_duration"))),
            "init_s": t["init_s"], "chunk_s": t["chunk_s"], "buckets": [[b[0], b[-1]] for b in res.buckets],
            "final_train_mean": float(np.nanmean(res.final["train_loss"])),
            "final_test_mean": float(np.nanmean(res.final["test_loss"])),
            "stopped": int((res.stopped_epoch >= 0).sum()), "diverged": int(res.diverged.sum()), **steady}


def main() -> None:
    if sys.argv[1:2] == ["--one"]:
        path, block, epochs, settings, kwargs = sys.argv[2:]
        print(json.dumps(one(path, int(block), None if epochs == "none" else int(epochs), json.loads(settings),
                             json.loads(kwargs))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_json")
    parser.add_argument("--block", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=None, help="cap on every config's horizon")
    parser.add_argument("--n-buckets", type=int, default=4)
    parser.add_argument("--chunk-epochs", type=int, default=500)
    parser.add_argument("--tolerance", type=float, default=1e-3)
    parser.add_argument("--widths", default=None, help="lo:hi, only configs of these widths")
    parser.add_argument("--variant", action="append", required=True)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    settings = {"n_buckets": args.n_buckets, "chunk_epochs": args.chunk_epochs, "tolerances": [args.tolerance]}
    if args.widths:
        settings["widths"] = [int(v) for v in args.widths.split(":")]
    variants = [parse_variant(v) for v in args.variant]
    rows: dict[str, list[dict]] = {label: [] for label, _ in variants}
    for r in range(args.repeats):
        for label, kwargs in variants:
            env = {**os.environ, "JAX_PLATFORMS": "cpu", "NNDL_PROGRESS": "0"}
            kwargs = dict(kwargs)
            if "xla" in kwargs:
                env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} {kwargs.pop('xla').replace('+', ' ')}".strip()
            proc = subprocess.run([sys.executable, __file__, "--one", args.sweep_json, str(args.block),
                                   "none" if args.epochs is None else str(args.epochs), json.dumps(settings),
                                   json.dumps(kwargs)], capture_output=True, text=True, env=env, cwd=ROOT)
            if proc.returncode != 0:
                raise RuntimeError(f"{label} failed:\n{proc.stderr[-3000:]}")
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            row["load"] = os.getloadavg()[0]
            rows[label].append(row)
            print(f"[{r}] {label:>12}: wall {row['wall_s']:6.1f} s  cpu {row['cpu_s']:6.1f} s  "
                  f"compile {row['compile_s']:5.1f} s (+trace/lower {row['trace_lower_s']:4.1f})  "
                  f"chunks {sum(row['chunk_s']):6.1f} s  train {row['final_train_mean']:.6g}  "
                  f"test {row['final_test_mean']:.6g}  load {row['load']:.1f}"
                  + (f"  steady {row['steady_chunks']} chunks: wall {row['steady_wall_s']:.2f} s "
                     f"cpu {row['steady_cpu_s']:.2f} s" if "steady_cpu_s" in row else ""), flush=True)
    print("median over repeats:")
    for label, rs in rows.items():
        print(f"  {label:>12}: wall {statistics.median(r['wall_s'] for r in rs):6.1f} s  "
              f"cpu {statistics.median(r['cpu_s'] for r in rs):6.1f} s  "
              f"compile {statistics.median(r['compile_s'] for r in rs):5.1f} s  "
              f"min wall {min(r['wall_s'] for r in rs):6.1f} s"
              + (f"  steady cpu {statistics.median(r['steady_cpu_s'] for r in rs):.2f} s "
                 f"wall {statistics.median(r['steady_wall_s'] for r in rs):.2f} s" if "steady_cpu_s" in rs[0] else ""))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
