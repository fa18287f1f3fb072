"""The device check: the double-descent and learning-rate sweeps at --full size on this machine's accelerator.

usage: python bench/device_check.py [--out bench/RESULTS-gpu.md] [--smoke]

Runs `experiments.double_descent` and `experiments.implicit_reg` (the learning-rate sweep of seed 001 CA2) at
their --full settings in this process and writes a markdown table: wall time, XLA compile time (JAX's own
compile events), the matmul FLOPs the sweeps executed and the FLOP/s achieved against this device's measured
float32 matmul peak, device memory at its peak, and the configs per jitted call the engine chose. `--smoke`
shrinks both to seconds (to check the script itself, e.g. on a CPU).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp

from nndl.models import padded_mlp
from nndl.sweep import engine

HERE = Path(__file__).resolve().parent

SMOKE = {"double_descent": {"widths": [2, 8, 16], "epochs": 40, "seeds": 2, "data_draws": 1, "n_test": 100,
                            "chunk_epochs": 20},
         "implicit_reg": {"lrs": [0.05, 0.1], "seeds": 1, "data_draws": 1, "epochs": 30, "wd_epochs": 20, "width": 8,
                          "depth": 2, "weight_decays": [0.001, 0.01, 0.1], "n_val": 50, "n_test": 50,
                          "chunk_epochs": 10, "stop_loss": 0.5}}


def matmul_peak(n: int, repeats: int = 10) -> float:
    """FLOP/s of an n x n float32 matmul at JAX's default precision (the device's practical peak for these sweeps)."""
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    f = jax.jit(lambda x: x @ x)
    f(a).block_until_ready()
    start = time.perf_counter()
    for _ in range(repeats):
        out = f(a)
    out.block_until_ready()
    return 2 * n**3 * repeats / (time.perf_counter() - start)


def sweep_flops(blocks: list[dict]) -> float:
    """Matmul FLOPs the engine executed: forward + backward (3 x forward) per training example and epoch for every
    config over the whole scan (frozen configs still run), plus nothing for evaluations (a lower bound)."""
    total = 0.0
    for block in blocks:
        epochs = max(c["epochs"] for c in block["configs"])
        for c in block["configs"]:
            fpe = padded_mlp.flops_per_example(int(c["width"]), d_in=block["d_in"], d_out=block["d_out"],
                                               depth=block["depth"])
            total += 3 * fpe * c["n_train"] * epochs
    return total


def run_one(name: str, smoke: bool, out: Path) -> dict:
    import importlib

    experiment = importlib.import_module(f"experiments.{name}")
    run = importlib.import_module(f"experiments.{name}.run").run
    config = {**experiment.get_config(True), **(SMOKE[name] if smoke else {}), "mode": "full"}
    compile_s = [0.0]
    calls = []

    def listen(event, secs, **kw):
        if event.startswith("/jax/core/compile/"):
            compile_s[0] += secs

    jax.monitoring.register_event_duration_secs_listener(listen)
    original = engine.Sweep.run

    def recording(self, *args, **kw):
        result = original(self, *args, **kw)
        calls.append({"configs": sum(len(b.track.diverged) for b in result),
                      "calls_per_chunk": self.timings.get("calls_per_chunk"), "chunks": len(self.timings["chunk_s"])})
        return result

    engine.Sweep.run = recording
    try:
        start = time.perf_counter()
        metrics = run(config, out)
        wall = time.perf_counter() - start
    finally:
        engine.Sweep.run = original
    blocks = json.loads((out / "sweep.json").read_text())
    stats = jax.devices()[0].memory_stats() or {}
    return {"name": name, "wall_s": wall, "compile_s": compile_s[0], "flops": sweep_flops(blocks),
            "configs": sum(b["n_configs"] for b in blocks), "calls": calls,
            "peak_bytes": stats.get("peak_bytes_in_use"), "bytes_limit": stats.get("bytes_limit"),
            "diverged": metrics.get("diverged")}


def markdown(rows: list[dict], device: dict, smoke: bool) -> str:
    lines = ["# nndl on an accelerator: the device check", "",
             f"- device: {device['kind']} x {device['count']} ({device['platform']}), jax {jax.__version__}, "
             f"host {platform.node()}",
             f"- measured float32 matmul peak (JAX default precision, {device['peak_n']}^2): "
             f"{device['peak'] / 1e12:.1f} TFLOP/s",
             f"- size: {'SMOKE (script check only, not a measurement)' if smoke else '--full settings'}", "",
             "| sweep | configs | wall s | compile s | executed matmul TFLOP | TFLOP/s (of peak) | peak memory GiB "
             "(of limit) | configs per call |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        rate = r["flops"] / max(r["wall_s"] - r["compile_s"], 1e-9)
        mem = ("-" if r["peak_bytes"] is None else
               f"{r['peak_bytes'] / 2**30:.1f} ({100 * r['peak_bytes'] / r['bytes_limit']:.0f} %)")
        per_call = ", ".join(f"{c['configs']}" + (f" in {c['calls_per_chunk']} slices" if c["calls_per_chunk"] and
                                                  c["calls_per_chunk"] > 1 else " (one call)") for c in r["calls"])
        lines.append(f"| {r['name']} | {r['configs']} | {r['wall_s']:.1f} | {r['compile_s']:.1f} | "
                     f"{r['flops'] / 1e12:.2f} | {rate / 1e12:.2f} ({100 * rate / device['peak']:.0f} %) | {mem} | "
                     f"{per_call} |")
    lines += ["", "FLOP/s = executed matmul FLOPs (3 x forward per example and epoch, every config over the whole "
              "scan; evaluations not counted) / (wall - compile).", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS-gpu.md")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the script, measures nothing")
    args = parser.parse_args(argv)
    devices = jax.devices()
    n = 1024 if args.smoke or devices[0].platform == "cpu" else 8192
    device = {"kind": devices[0].device_kind, "count": len(devices), "platform": devices[0].platform,
              "peak": matmul_peak(n), "peak_n": n}
    rows = []
    with tempfile.TemporaryDirectory(prefix="nndl-device-check-") as tmp:
        for name in ("double_descent", "implicit_reg"):
            folder = Path(tmp) / name
            folder.mkdir()
            rows.append(run_one(name, args.smoke, folder))
            print(f"{name}: {rows[-1]['wall_s']:.1f} s", file=sys.stderr)
    text = markdown(rows, device, args.smoke)
    args.out.write_text(text)
    (args.out.with_suffix(".json")).write_text(json.dumps({"device": device, "rows": rows}, indent=2, default=str))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
