"""Scale-out measurements (issue 17) on this machine: 1 vs 2 processes, cold vs warm compilation cache, and the
engine's device-memory estimate against the real peak.

usage: python bench/scale_check.py [--out bench/SCALE.md]

Each measurement is a fresh process timed from outside (start-up and compilation count):
- processes: a small double_descent run as 1 process with 2 host devices, then as 2 processes with 1 device each
  (jax.distributed on 127.0.0.1, gloo), compilation cache off;
- cache: the same run twice with a fresh JAX_COMPILATION_CACHE_DIR (cold, then warm);
- memory: `Sweep.bytes_per_config` (XLA's memory analysis of the chunk program) x configs, against the peak
  resident memory the sweep added to its process (ru_maxrss after minus before; CPU "device" memory is host memory).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DD = ["--widths", "2:40:2", "--epochs", "600", "--seeds", "2", "--data-draws", "2", "--n-test", "500",
      "--chunk-epochs", "200", "--buckets", "2"]


def env(devices: int, cache: str | None) -> dict:
    out = {**os.environ, "JAX_PLATFORMS": "cpu", "NNDL_PROGRESS": "0",
           "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    if cache is None:
        out["NNDL_COMPILATION_CACHE"] = "0"
    else:
        out.pop("NNDL_COMPILATION_CACHE", None)
        out["JAX_COMPILATION_CACHE_DIR"] = cache
    return out


def timed(processes: int, devices: int, out: Path, cache: str | None = None) -> float:
    port = None
    if processes > 1:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    start = time.perf_counter()
    procs = []
    for pid in range(processes):
        extra = ["--coordinator", f"127.0.0.1:{port}", "--num-processes", str(processes), "--process-id",
                 str(pid)] if processes > 1 else []
        procs.append(subprocess.Popen([sys.executable, "-m", "experiments.double_descent", *DD, "--out", str(out),
                                       *extra], cwd=ROOT, env=env(devices, cache), stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, text=True))
    for p in procs:
        _, err = p.communicate()
        if p.returncode:
            raise RuntimeError(err[-2000:])
    return time.perf_counter() - start


def memory_case() -> dict:
    """In this process: the estimate for the sweep double_descent runs with DD's settings, and the real peak."""
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import numpy as np

    from experiments.double_descent import get_config
    from experiments.double_descent.run import make_grid, sweep_configs
    from nndl.data import teacher
    from nndl.sweep import engine
    from nndl.train import run_mlp_sweep

    config = {**get_config(False), "widths": list(range(2, 41, 2)), "epochs": 600, "seeds": 2, "data_draws": 2,
              "n_test": 500, "chunk_epochs": 200, "n_buckets": 2}
    grid = make_grid(config, config["widths"])
    configs = sweep_configs(config, grid)
    data = teacher.draws(0, config["data_draws"], config["n_train_large"], config["n_test"], config["noise"])
    estimate = {}
    original = engine.Sweep.run

    def measuring(self, hps, data_, **kw):
        per = self.bytes_per_config(hps, data_)
        estimate.update(per_config=per, configs=sum(len(h["seed"]) for h in hps),
                        data=sum(np.asarray(v).nbytes for v in data_.values()))
        return original(self, hps, data_, **kw)

    engine.Sweep.run = measuring
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    run_mlp_sweep(configs, data, depth=2, n_buckets=config["n_buckets"], chunk_epochs=config["chunk_epochs"])
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    engine.Sweep.run = original
    return {"estimate_bytes": estimate["per_config"] * estimate["configs"] + estimate["data"],
            "per_config_bytes": estimate["per_config"], "configs": estimate["configs"],
            "rss_before": before, "rss_after": after, "rss_added": after - before}


def main(argv=None) -> int:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--memory-case":
        print(json.dumps(memory_case()))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "SCALE.md")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        one = timed(1, 2, tmp / "one")
        two = timed(2, 1, tmp / "two")
        cache = str(tmp / "cache")
        cold = timed(1, 2, tmp / "cold", cache)
        warm = timed(1, 2, tmp / "warm", cache)
    mem = json.loads(subprocess.run([sys.executable, str(Path(__file__)), "--memory-case"], cwd=ROOT, env=env(2, None),
                                    capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
    cpu = platform.processor() or platform.machine()
    mib = 2**20
    text = "\n".join([
        "# Scale-out measurements (issue 17)", "",
        f"`python bench/scale_check.py` on {cpu}, {os.cpu_count()} cores, load average {load:.1f} at the start; "
        f"double_descent with `{' '.join(DD)}` (one fresh process per run, start-up and compile included).", "",
        "| measurement | wall s |", "|---|---|",
        f"| 1 process, 2 host devices (cache off) | {one:.1f} |",
        f"| 2 processes x 1 device, jax.distributed on 127.0.0.1 (cache off) | {two:.1f} |",
        f"| compilation cache cold (fresh folder) | {cold:.1f} |",
        f"| compilation cache warm (same folder, second run) | {warm:.1f} ({100 * warm / cold:.0f} % of cold) |", "",
        "Memory: the engine's estimate (XLA memory analysis of the chunk program: "
        f"{mem['per_config_bytes'] / 1024:.0f} KiB per config x {mem['configs']} configs + data) is "
        f"{mem['estimate_bytes'] / mib:.1f} MiB; the sweep raised "
        f"the process's peak resident memory by {mem['rss_added'] / mib:.1f} MiB "
        f"(from {mem['rss_before'] / mib:.0f} to {mem['rss_after'] / mib:.0f} MiB; on a CPU the device memory is host "
        "memory, and the peak also holds XLA's compiler and the host copies of the results).", ""])
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
