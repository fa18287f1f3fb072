"""The experiments as users run them vs a sequential PyTorch loop doing the same work (issue 18).

Run (needs the bench extra: pip install -e ".[bench]"):
    python bench/sweep_speed.py --replay              # double_descent --quick and implicit_reg --quick
    python bench/sweep_speed.py --replay --sample 8   # PyTorch timed on a stratified 1/8 of the configs

nndl: `python -m experiments.<name> --quick` in a fresh process, timed from outside (start-up, compilation,
the sweeps, gradient statistics, plots and files all count). PyTorch: the `sweep.json` that run wrote is
replayed config by config, as a student's loop would do it: a fresh `nn.Sequential` per config,
`torch.optim.Adam`/`SGD` with the config's learning rate and (coupled) weight decay, minibatches from a
per-epoch `randperm` (the last one partial), stopping after the first epoch whose mean loss is below the
config's stop_loss, and the same evaluations (train and test MSE at `n_record` log-spaced epochs on
`n_test` points). With --sample k the configs are grouped into strata of equal cost (same width, training
size, batch size and horizon) and every k-th config of each stratum is timed; a stratum's time is its
timed configs' mean times its size. PyTorch's start-up (interpreter + `import torch`) is measured once.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = ("double_descent", "implicit_reg")


def run_experiment(name: str, out: Path, cache: Path | None = None) -> float:
    """Wall seconds of `python -m experiments.<name> --quick` in a fresh process; `cache` is the persistent
    compilation cache folder it sees (a fresh empty one: a first run, everything compiled; the folder a
    previous run filled: a rerun), None: no persistent cache."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "NNDL_PROGRESS": "0"}
    if cache is None:
        env["NNDL_COMPILATION_CACHE"] = "0"
    else:
        env["JAX_COMPILATION_CACHE_DIR"] = str(cache)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", f"experiments.{name}", "--quick", "--out", str(out)], cwd=ROOT,
                          env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{proc.stderr[-3000:]}")
    return wall


def strata(configs: list[dict], sample: int) -> list[tuple[list[int], list[int]]]:
    """(members, timed) per stratum of equal-cost configs; timed = every `sample`-th member (at least one)."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, c in enumerate(configs):
        groups[(c["width"], c["n_train"], c["batch_size"], c["epochs"], c["stop_loss"] > 0)].append(i)
    return [(m, m[::sample] or m[:1]) for m in groups.values()]


def record_epochs(n_epochs: int, n_points: int) -> set[int]:
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from nndl.sweep.engine import record_epochs as nndl_record

    return {int(e) for e in np.asarray(nndl_record(n_epochs, n_points))}


def torch_replay(block: dict, sample: int, threads: int, seed: int = 0) -> dict:
    """Times the PyTorch loop on the sampled configs of one sweep.json block; returns the estimated total."""
    import torch

    sys.path.insert(0, str(ROOT))
    from nndl.data import teacher

    torch.set_num_threads(threads)
    configs = block["configs"]
    n_rows = max(c["n_train"] for c in configs)
    data = teacher.draws(seed, block["n_draws"], n_rows, block["n_test"])
    tensors = {k: torch.tensor(v, dtype=torch.float32) for k, v in data.items()}
    act = torch.nn.ReLU if block["activation"] == "relu" else torch.nn.Tanh

    def net(width):
        sizes = [block["d_in"]] + [width] * block["depth"] + [block["d_out"]]
        layers = []
        for a, b in itertools.pairwise(sizes):
            layers += [torch.nn.Linear(a, b), act()]
        return torch.nn.Sequential(*layers[:-1])

    def one(c: dict) -> float:
        t0 = time.perf_counter()
        torch.manual_seed(c["seed"])
        x, y = tensors["x_train"][c["data"], :c["n_train"]], tensors["y_train"][c["data"], :c["n_train"]]
        xt, yt = tensors["x_test"][c["data"]], tensors["y_test"][c["data"]]
        model = net(c["width"])
        opt_cls = torch.optim.Adam if block["optimizer"] == "adam" else torch.optim.SGD
        opt = opt_cls(model.parameters(), lr=c["lr"], weight_decay=c["weight_decay"])
        records = record_epochs(c["epochs"], block["n_record"])
        n, b = c["n_train"], c["batch_size"]
        for epoch in range(1, c["epochs"] + 1):
            perm = torch.randperm(n) if b < n else None
            total = 0.0
            for s in range(0, n, b):
                xb, yb = (x, y) if perm is None else (x[perm[s:s + b]], y[perm[s:s + b]])
                opt.zero_grad()
                loss = torch.nn.functional.mse_loss(model(xb), yb)
                loss.backward()
                opt.step()
                total += loss.item() * len(xb)
            if epoch in records:
                with torch.no_grad():
                    torch.nn.functional.mse_loss(model(x), y).item()
                    torch.nn.functional.mse_loss(model(xt), yt).item()
            if c["stop_loss"] > 0 and total / n < c["stop_loss"]:
                break
        return time.perf_counter() - t0

    start = time.perf_counter()
    estimate, timed = 0.0, 0
    for members, chosen in strata(configs, sample):
        seconds = [one(configs[i]) for i in chosen]
        estimate += sum(seconds) / len(seconds) * len(members)
        timed += len(chosen)
    return {"threads": threads, "configs": len(configs), "timed_configs": timed,
            "loop_s": time.perf_counter() - start, "estimated_s": estimate}


def torch_startup() -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch, numpy"], check=True)
    return time.perf_counter() - t0


def case(args: list[str]) -> dict:
    """`--case replay <sweep.json> <block> <sample> <threads>`: the PyTorch replay in a fresh process."""
    path, block, sample, threads = args
    blocks = json.loads(Path(path).read_text())
    return torch_replay(blocks[int(block)], int(sample), int(threads))


def run_case(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "sweep_speed.py"), "--case", "replay", *args],
                          capture_output=True, text=True, cwd=ROOT, env={**os.environ, "JAX_PLATFORMS": "cpu"})
    if proc.returncode != 0:
        raise RuntimeError(f"replay {args} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def cpu() -> dict:
    """CPU model and its widest vector ISA from lscpu (and whether XLA was told to stop at AVX2)."""
    text = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    flags = fields.get("Flags", "").split()
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "SSE/other"
    emulated = "--xla_cpu_max_isa=AVX2" in os.environ.get("XLA_FLAGS", "")
    return {"model": fields.get("Model name", "?").strip(), "isa": isa, "cores": os.cpu_count(),
            "emulated_avx2": emulated}


def work_sha(blocks: list[dict]) -> str:
    """A fingerprint of the work a sweep.json describes (its blocks, configs included)."""
    import hashlib

    return hashlib.sha256(json.dumps(blocks, sort_keys=True).encode()).hexdigest()[:16]


def bench(sample: int, threads: tuple[int, ...] = (1, 2), names: tuple[str, ...] = EXPERIMENTS,
          torch_from: dict | None = None) -> dict:
    """Per experiment: nndl cold (fresh compilation cache), nndl warm (the same cache again: a rerun), and the
    PyTorch replay at each thread count (the faster counts). The ratio is PyTorch over nndl cold.

    `torch_from` (an earlier result of this function): its PyTorch seconds are reused for an experiment whose
    sweep.json is the same work (equal `work_sha`), marked so in the result; the replay does not depend on nndl's
    code, only on the work."""
    machine = cpu()
    print(f"[replay] {machine}, load {os.getloadavg()}", flush=True)
    results = {"cpu": machine, "sample": sample, "torch_startup_s": torch_startup(), "experiments": {},
               "date": time.strftime("%Y-%m-%d %H:%M")}
    for name in names:
        path = Path(tempfile.gettempdir()) / f"{name}.sweep.json"
        load = os.getloadavg()[0]
        with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as cache:
            wall = run_experiment(name, Path(tmp) / "cold", Path(cache))
            warm = run_experiment(name, Path(tmp) / "warm", Path(cache))
            blocks = json.loads((Path(tmp) / "cold" / "sweep.json").read_text())
            (Path(tmp) / "cold" / "sweep.json").replace(path)
        print(f"  {name}: nndl cold {wall:.1f} s, warm {warm:.1f} s", flush=True)
        sha = work_sha(blocks)
        old = (torch_from or {}).get("experiments", {}).get(name, {})
        if old.get("sweep_sha") == sha:
            torch = {k: old[k] for k in ("torch_s", "torch_threads", "torch_s_by_threads", "timed_configs")}
            torch["torch_reused_from"] = torch_from.get("date", "an earlier run")
        else:
            runs = [[run_case([str(path), str(b), str(sample), str(t)]) for b in range(len(blocks))] for t in threads]
            totals = [sum(r["estimated_s"] for r in rs) for rs in runs]
            best = min(range(len(threads)), key=lambda t: totals[t])
            torch = {"torch_s": totals[best] + results["torch_startup_s"], "torch_threads": threads[best],
                     "torch_s_by_threads": dict(zip(map(str, threads), totals)),
                     "timed_configs": sum(r["timed_configs"] for r in runs[best])}
        torch_s = torch["torch_s"]
        results["experiments"][name] = {"nndl_wall_s": wall, "nndl_warm_s": warm, "load_before": load,
                                        **torch, "sweep_sha": sha,
                                        "ratio": torch_s / wall, "ratio_warm": torch_s / warm,
                                        "configs": sum(b["n_configs"] for b in blocks)}
        print(f"  {name}: nndl {wall:.1f} s (warm {warm:.1f}), PyTorch {torch_s:.1f} s -> {torch_s / wall:.1f}x",
              flush=True)
    return results


def reused(e: dict) -> str:
    if "torch_reused_from" not in e:
        return ""
    return f" (reused from the replay of {e['torch_reused_from']}: the same sweep.json work)"


def markdown(r: dict) -> str:
    c = r["cpu"]
    label = f"{c['model']}, {c['cores']} cores, {c['isa']}" + (" (AVX2 EMULATED via XLA_FLAGS/ATEN_CPU_CAPABILITY)"
                                                               if c["emulated_avx2"] else "")
    lines = [f"### As users run them: `--quick` vs a PyTorch replay of the same `sweep.json` ({label}, "
             f"{time.strftime('%Y-%m-%d')})", "",
             "| experiment | configs | nndl wall s, first run (fresh process, empty compilation cache) | nndl rerun "
             "(warm cache) | sequential PyTorch s | speed-up (first run) | speed-up (rerun) | load before |",
             "|---|---|---|---|---|---|---|---|"]
    for name, e in r["experiments"].items():
        lines.append(f"| `{name} --quick` | {e['configs']} | {e['nndl_wall_s']:.1f} | {e['nndl_warm_s']:.1f} | "
                     f"{e['torch_s']:.1f} ({e['torch_threads']} thread{'s' if e['torch_threads'] > 1 else ''}) | "
                     f"**{e['ratio']:.1f}x** | {e['ratio_warm']:.1f}x | {e['load_before']:.2f} |")
    lines += ["", f"PyTorch timed on a stratified 1/{r['sample']} of the configs (strata of equal width, "
                  f"training size, batch size and horizon), start-up {r['torch_startup_s']:.1f} s added once; "
                  f"PyTorch seconds by thread count: "
                  + "; ".join(f"{n} {e['torch_s_by_threads']}" + reused(e) for n, e in r["experiments"].items()),
              ""]
    return "\n".join(lines)
