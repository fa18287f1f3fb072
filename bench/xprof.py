"""Which XLA kernels a sweep's steady state spends its time in: a profiler trace of chunks 2.. of
`nndl.train.run_mlp_sweep` on (a width range of) one `sweep.json` block, thunk by thunk, with each thunk's HLO
(opcode, shape, the jaxpr op it came from).

Run:
    python bench/xprof.py /tmp/dd/sweep.json --widths 200:200 --epochs 300 --chunk-epochs 100
    python bench/xprof.py /tmp/ir/sweep.json --block 1 --epochs 200 --chunk-epochs 50 --kw '{"layout": "features"}'

Thunk times are the wall durations XLA's CPU runtime reports per kernel (`--xla_cpu_enable_xprof_traceme`),
summed over both host devices' threads: on a loaded machine they include time the thread was preempted, so read
them as shares, not as absolute speeds. Thunks inside the evaluation `conditional` (the recorded train/test
losses) are reported apart from the training epoch's.
"""

from __future__ import annotations

import argparse
import collections
import glob
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INSTRUCTION = re.compile(r"^\s+(?:ROOT )?%?([\w.\-]+) = (\S+) (\w[\w\-]*)\((.*)$")


def hlo_table(dump: Path) -> dict[str, dict]:
    """name -> {shape, op (opcode or fusion kind), source (jaxpr op path)} over the chunk program's optimised HLO."""
    table = {}
    for path in dump.glob("*chunk_all*cpu_after_optimizations.txt"):
        for line in path.read_text().splitlines():
            m = INSTRUCTION.match(line)
            if not m:
                continue
            name, shape, opcode, rest = m.groups()
            kind = re.search(r'"kind":"(__\w+)"', rest) or re.search(r"kind=(k\w+)", rest)
            source = re.search(r'op_name="([^"]*)"', rest)
            table[name] = {"shape": shape, "op": opcode + (f":{kind.group(1)}" if kind and opcode == "fusion" else ""),
                           "source": source.group(1).split("/")[-2:] if source else []}
    return table


def category(info: dict) -> str:
    op = info.get("op", "?")
    if op.startswith("dot") or "ynn" in op or "xnn" in op:
        return "matmul (dot / YNNPACK fusion)"
    if op.startswith("conditional") or op.startswith("while") or op.startswith("call"):
        return "control"
    if "kLoop" in op or "kInput" in op or op.startswith(("fusion", "select", "add", "multiply")):
        return "elementwise / reduce fusions"
    return "other (copies, gathers, ...)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_json")
    parser.add_argument("--block", type=int, default=0)
    parser.add_argument("--widths", default=None, help="lo:hi, only configs of these widths")
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--chunk-epochs", type=int, default=100)
    parser.add_argument("--n-buckets", type=int, default=1)
    parser.add_argument("--devices", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--kw", default="{}", help="extra run_mlp_sweep keyword arguments (JSON)")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="xprof-"))
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_enable_xprof_traceme=true"
                               f" --xla_dump_to={work / 'hlo'} --xla_dump_hlo_module_re=.*chunk_all.*").strip()
    sys.path.insert(0, str(ROOT))
    from nndl.sweep import use_host_devices

    use_host_devices(args.devices)
    import jax
    import numpy as np

    from nndl.data import teacher
    from nndl.train import run_mlp_sweep

    spec = json.loads(Path(args.sweep_json).read_text())[args.block]
    lo, hi = map(int, args.widths.split(":")) if args.widths else (0, 1 << 30)
    configs = [c for c in spec["configs"] if lo <= c["width"] <= hi]
    data = teacher.draws(0, spec["n_draws"], max(c["n_train"] for c in configs), spec["n_test"])
    grid = {k: np.asarray([c[k] for c in configs]) for k in ("width", "n_train", "batch_size", "epochs", "lr",
                                                           "weight_decay", "stop_loss", "seed", "data")}
    grid["epochs"] = np.minimum(grid["epochs"], args.epochs)
    options = jax.profiler.ProfileOptions()
    options.host_tracer_level = 3
    trace = work / "trace"

    def on_chunk(k):
        if k == 1:
            jax.profiler.start_trace(str(trace), profiler_options=options)

    res = run_mlp_sweep(grid, data, depth=spec["depth"], optimizer=spec["optimizer"], loss=spec["loss"],
                        activation=spec["activation"], decay_biases=spec["decay_biases"],
                        **{"n_buckets": args.n_buckets, "chunk_epochs": args.chunk_epochs, "n_record": spec["n_record"],
                           "on_chunk": on_chunk, **json.loads(args.kw)})
    jax.profiler.stop_trace()
    epochs_traced = int(grid["epochs"].max()) - args.chunk_epochs
    records = int(np.sum((res.record_epochs > args.chunk_epochs) & (res.record_epochs <= grid["epochs"].max())))
    profile = jax.profiler.ProfileData.from_file(glob.glob(str(trace / "**" / "*.xplane.pb"), recursive=True)[-1])
    total, count = collections.Counter(), collections.Counter()
    for plane in profile.planes:
        for line in plane.lines:
            if "PjRtCpuClient" not in line.name and "XLAEigen" not in line.name:
                continue
            for ev in line.events:
                if not ev.name.startswith(("ThunkExecutor", "end:", "Threadpool")):
                    total[ev.name] += ev.duration_ns / 1e9
                    count[ev.name] += 1
    hlo = hlo_table(work / "hlo")
    # the evaluation runs inside a conditional: its thunks run once per record epoch, the epoch's once per epoch
    per_epoch = {k for k, n in count.items() if n % epochs_traced == 0 and not k.startswith("conditional")}
    evaluation = {k for k in total if k not in per_epoch and not k.startswith("conditional")}
    summary = {"configs": len(configs), "buckets": [[b[0], b[-1]] for b in res.buckets], "epochs_traced": epochs_traced,
               "records_traced": records, "train_s": sum(total[k] for k in per_epoch),
               "evaluation_s": sum(total[k] for k in evaluation), "by_category": {}, "top": []}
    for part, names in (("train", per_epoch), ("evaluation", evaluation)):
        cats = collections.Counter()
        for k in names:
            cats[category(hlo.get(k, {}))] += total[k]
        summary["by_category"][part] = {c: round(v, 3) for c, v in cats.most_common()}
    for k, v in total.most_common(args.top):
        info = hlo.get(k, {})
        summary["top"].append({"thunk": k, "s": round(v, 3), "calls": count[k], "op": info.get("op"),
                               "shape": info.get("shape"), "source": "/".join(info.get("source", []))})
    print(json.dumps(summary, indent=1))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
