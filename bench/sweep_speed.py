"""Sweep speed: nndl's one-call sweep vs a sequential PyTorch loop vs a naive JAX loop (wall clock, compile included).

Run (needs the optional extra: pip install -e ".[bench]"):
    python bench/sweep_speed.py                 # everything, writes bench/RESULTS.md
    python bench/sweep_speed.py --sample 10     # baselines on every 10th config, extrapolated (quicker)
    python bench/sweep_speed.py --only dd       # one problem: dd (double descent) or lr (learning-rate sweep)
    python bench/sweep_speed.py --replay --sample 8   # double_descent/implicit_reg --quick vs PyTorch replaying
                                                      # their sweep.json (bench/replay.py)
    python bench/sweep_speed.py --replay --sample 8 --threads 1 --torch-from bench/RESULTS-replay-avx2-baseline.json
                                                      # nndl re-timed, PyTorch reused where the work is the same

Every measurement runs in its own fresh process and is timed from outside, so
start-up (Python, imports) and compilation count. Problems (issue 4):
  dd: widths 2..200 step 2, 1 seed, 2,000 full-batch Adam epochs, N = 100, 8 -> M -> M -> 8 ReLU.
  lr: 5 hidden layers of 50, plain SGD, B = 20, lrs {0.02, 0.04, 0.08, 0.16} x 8 seeds, 2,000 epochs.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import replay  # noqa: E402  (bench/replay.py, beside this script)

DD = {"widths": list(range(2, 201, 2)), "epochs": 2000, "n": 100, "depth": 2, "lr": 1e-3}
LR = {"lrs": [0.02, 0.04, 0.08, 0.16], "seeds": 8, "epochs": 2000, "n": 100, "depth": 5, "width": 50, "batch": 20}


# ----------------------------------------------------------------- FLOPs
def matmul_flops_per_example(sizes: list[int]) -> int:
    """Forward matmul FLOPs of one example (2 per multiply-add)."""
    return sum(2 * a * b for a, b in itertools.pairwise(sizes))


def train_flops(sizes: list[int], n: int, epochs: int) -> float:
    """Forward + backward (grads w.r.t. inputs and weights: 2x forward) matmul FLOPs of a training run."""
    return 3.0 * matmul_flops_per_example(sizes) * n * epochs


def dd_sizes(w: int) -> list[int]:
    return [8, w, w, 8]


def lr_sizes() -> list[int]:
    return [8] + [LR["width"]] * LR["depth"] + [8]


def data(n: int, seed: int = 0):
    from nndl.data import teacher

    return teacher.dataset(seed, n, 1000)


def problem_configs(problem: str) -> list:
    """dd: the widths; lr: the (lr, seed) pairs."""
    return DD["widths"] if problem == "dd" else [(lr, s) for lr in LR["lrs"] for s in range(LR["seeds"])]


def config_flops(problem: str, config) -> float:
    return train_flops(dd_sizes(config), DD["n"], DD["epochs"]) if problem == "dd" else \
        train_flops(lr_sizes(), LR["n"], LR["epochs"])


def extrapolate(problem: str, timed: list, seconds: list[float], configs: list) -> float:
    """Total time of all configs from the timed sample: a least-squares line time = a + b * FLOPs
    through the timed configs (a sample of widths is cheaper on average than all of them), or
    the mean when every config costs the same."""
    import numpy as np

    if len(timed) == len(configs):
        return float(sum(seconds))
    cost = np.array([config_flops(problem, c) for c in timed])
    if np.ptp(cost) == 0 or len(timed) < 3:
        return float(np.mean(seconds)) * len(configs)
    b, a = np.polyfit(cost, np.asarray(seconds), 1)
    return float(sum(a + b * config_flops(problem, c) for c in configs))


# ----------------------------------------------------------------- cases
def case_nndl(problem: str, devices: int, n_record: int = 10) -> dict:
    flags = os.environ.get("XLA_FLAGS", "")
    os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={devices}".strip()
    import jax
    import numpy as np

    from nndl import sweep, train

    events: dict[str, float] = {}  # JAX's own compile-time events: tracing, lowering, XLA compile
    jax.monitoring.register_event_duration_secs_listener(
        lambda name, secs, **kw: events.__setitem__(name, events.get(name, 0.0) + secs))
    if problem == "dd":
        grid = sweep.product(width=DD["widths"], seed=[0])
        n = len(grid["width"])
        grid.update(lr=np.full(n, DD["lr"]), epochs=np.full(n, DD["epochs"]))
        res = train.run_mlp_sweep(grid, data(DD["n"]), depth=DD["depth"], n_buckets=4, chunk_epochs=500,
                                  n_record=n_record, desc="dd")
        useful = sum(config_flops("dd", w) for w in DD["widths"])
        executed = useful / (1 - res.padding_waste)
    else:
        grid = sweep.product(lr=LR["lrs"], seed=range(LR["seeds"]))
        n = len(grid["lr"])
        grid.update(width=np.full(n, LR["width"]), epochs=np.full(n, LR["epochs"]), batch_size=np.full(n, LR["batch"]))
        res = train.run_mlp_sweep(grid, data(LR["n"]), depth=LR["depth"], optimizer="sgd", chunk_epochs=500,
                                  n_record=n_record, desc="lr")
        useful = executed = sum(config_flops("lr", c) for c in problem_configs("lr"))
    t = res.engine.timings
    compile_s = sum(v for k, v in events.items() if k.startswith("/jax/core/compile/"))
    run_s = t["init_s"] + sum(t["chunk_s"]) - compile_s
    return {"compile_s": compile_s, "run_s": run_s, "compile_events": events, "useful_flops": useful,
            "executed_flops": executed,
            "padding_waste": res.padding_waste, "buckets": [[b[0], b[-1]] for b in res.buckets],
            "final_train_mean": float(np.nanmean(res.final["train_loss"]))}


def case_torch(problem: str, threads: int, sample: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    d = data(DD["n"] if problem == "dd" else LR["n"])
    x, y = torch.tensor(d["x_train"], dtype=torch.float32), torch.tensor(d["y_train"], dtype=torch.float32)

    def net(sizes):
        layers = []
        for a, b in itertools.pairwise(sizes):
            layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
        return torch.nn.Sequential(*layers[:-1])

    configs = problem_configs(problem)
    timed = configs[::sample]
    per_config = []
    start = time.perf_counter()
    for c in timed:
        t0 = time.perf_counter()
        if problem == "dd":
            torch.manual_seed(0)
            model, epochs = net(dd_sizes(c)), DD["epochs"]
            opt = torch.optim.Adam(model.parameters(), lr=DD["lr"])
            for _ in range(epochs):
                opt.zero_grad()
                loss = torch.nn.functional.mse_loss(model(x), y)
                loss.backward()
                opt.step()
        else:
            lr, seed = c
            torch.manual_seed(seed)
            model = net(lr_sizes())
            opt = torch.optim.SGD(model.parameters(), lr=lr)
            for _ in range(LR["epochs"]):
                perm = torch.randperm(LR["n"])
                for s in range(0, LR["n"], LR["batch"]):
                    idx = perm[s:s + LR["batch"]]
                    opt.zero_grad()
                    loss = torch.nn.functional.mse_loss(model(x[idx]), y[idx])
                    loss.backward()
                    opt.step()
        per_config.append(time.perf_counter() - t0)
    loop_s = time.perf_counter() - start
    return {"threads": threads, "timed_configs": len(timed), "configs": len(configs), "loop_s": loop_s,
            "extrapolated_s": extrapolate(problem, timed, per_config, configs)}


def case_naive_jax(problem: str, sample: int) -> dict:
    import jax
    import jax.numpy as jnp
    import optax

    from nndl import losses
    from nndl.models import mlp

    d = data(DD["n"] if problem == "dd" else LR["n"])
    x, y = jnp.asarray(d["x_train"], jnp.float32), jnp.asarray(d["y_train"], jnp.float32)

    def make_step(tx):
        @jax.jit
        def step(params, opt_state, xb, yb):
            def loss_fn(p):
                return jnp.mean(jax.vmap(lambda a, b: losses.mse(mlp.apply(p, a), b))(xb, yb))

            grads = jax.grad(loss_fn)(params)
            updates, opt_state = tx.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state

        return step

    configs = problem_configs(problem)
    timed = configs[::sample]
    compile_s = 0.0
    per_config = []
    start = time.perf_counter()
    for c in timed:
        t_config = time.perf_counter()
        if problem == "dd":
            params, tx, epochs = mlp.init(jax.random.key(0), dd_sizes(c)), optax.adam(DD["lr"]), DD["epochs"]
        else:
            lr, seed = c
            params, tx, epochs = mlp.init(jax.random.key(seed), lr_sizes()), optax.sgd(lr), LR["epochs"]
        step, opt_state = make_step(tx), tx.init(params)
        t0 = time.perf_counter()
        jax.block_until_ready(step.lower(params, opt_state, x[:LR["batch"]] if problem == "lr" else x,
                                         y[:LR["batch"]] if problem == "lr" else y).compile())
        compile_s += time.perf_counter() - t0
        key = jax.random.key(1)
        for e in range(epochs):
            if problem == "dd":
                params, opt_state = step(params, opt_state, x, y)
            else:
                perm = jax.random.permutation(jax.random.fold_in(key, e), LR["n"])
                for s in range(0, LR["n"], LR["batch"]):
                    idx = perm[s:s + LR["batch"]]
                    params, opt_state = step(params, opt_state, x[idx], y[idx])
        jax.block_until_ready(params)
        per_config.append(time.perf_counter() - t_config)
    loop_s = time.perf_counter() - start
    return {"timed_configs": len(timed), "configs": len(configs), "loop_s": loop_s, "compile_s": compile_s,
            "extrapolated_s": extrapolate(problem, timed, per_config, configs)}


def case_roofline() -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np

    n = 2048
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    flops = 2.0 * n**3

    def best(f, reps=5):
        f()
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            f()
            times.append(time.perf_counter() - t0)
        return min(times)

    aj = jnp.asarray(a)
    mm = jax.jit(lambda u: u @ u)
    return {"numpy_gflops": flops / best(lambda: a @ a) / 1e9,
            "jax_gflops": flops / best(lambda: mm(aj).block_until_ready()) / 1e9}


# ----------------------------------------------------------------- driver
def run_case(args: list[str]) -> dict:
    """Runs one case in a fresh process; returns its JSON result plus the outside wall time."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "NNDL_PROGRESS": "0"}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, str(Path(__file__)), "--case", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"case {args} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_s"] = wall
    print(f"  {' '.join(args)}: {wall:.1f} s wall  {result}", flush=True)
    return result


def bench_problem(problem: str, sample: int, devices: int) -> dict:
    print(f"[{problem}]", flush=True)
    # n_record 10: train/test losses at 10 log-spaced epochs (the baselines evaluate nothing);
    # "curves" is the experiments' default of 100 evaluations on 1,000 test points
    out = {"nndl": run_case(["nndl", problem, str(devices), "10"])}
    out["nndl_curves"] = run_case(["nndl", problem, str(devices), "100"])
    if devices != 1:
        out["nndl_1dev"] = run_case(["nndl", problem, "1", "10"])
    torch = [run_case(["torch", problem, str(t), str(sample)]) for t in (1, 2)]
    out["torch"] = min(torch, key=lambda r: r["extrapolated_s"])
    out["torch_all"] = torch
    out["naive_jax"] = run_case(["naive", problem, str(sample)])
    # baselines timed on a sample: extrapolate the loop, keep the real start-up
    for k in ("torch", "naive_jax"):
        r = out[k]
        r["total_s"] = r["wall_s"] - r["loop_s"] + r["extrapolated_s"]
    return out


def markdown(results: dict, roof: dict, sample: int, devices: int) -> str:
    names = {"dd": "double descent (widths 2..200 step 2, 2,000 full-batch Adam epochs)",
             "lr": "learning-rate sweep (5x50, SGD B=20, 4 lrs x 8 seeds, 2,000 epochs)"}
    lines = ["# Sweep speed", "",
             f"Measured by `python bench/sweep_speed.py{'' if sample == 1 else f' --sample {sample}'}` on "
             f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}. "
             "Every number comes from one run of the script on one machine; each measurement is a fresh process "
             "timed from outside (start-up and compilation included).", "",
             f"Large-matmul roofline (2048² float32): numpy {roof['numpy_gflops']:.0f} GFLOP/s, "
             f"JAX {roof['jax_gflops']:.0f} GFLOP/s.", ""]
    if sample != 1:
        lines += [f"Baselines were timed on every {sample}th config and extrapolated to all configs by a "
                  "least-squares line time = a + b x FLOPs through the timed ones (their start-up counted once).",
                  ""]
    for problem, r in results.items():
        nd, tor, nv = r["nndl"], r["torch"], r["naive_jax"]
        gflops = nd["useful_flops"] / nd["run_s"] / 1e9
        lines += [f"## {names[problem]}", "",
                  "| implementation | wall s (incl. start-up + compile) | compile s | speed-up vs PyTorch |",
                  "|---|---|---|---|",
                  f"| nndl one-call sweep ({devices} host devices, 10 recorded evaluations) | {nd['wall_s']:.1f} | "
                  f"{nd['compile_s']:.1f} | "
                  f"**{tor['total_s'] / nd['wall_s']:.1f}x** |"]
        cur = r["nndl_curves"]
        lines.append(f"| nndl, 100 recorded train/test evaluations (experiment default) | {cur['wall_s']:.1f} | "
                     f"{cur['compile_s']:.1f} | {tor['total_s'] / cur['wall_s']:.1f}x |")
        if "nndl_1dev" in r:
            one = r["nndl_1dev"]
            lines.append(f"| nndl one-call sweep (1 device, 10 recorded evaluations) | {one['wall_s']:.1f} | "
                         f"{one['compile_s']:.1f} | "
                         f"{tor['total_s'] / one['wall_s']:.1f}x |")
        lines += [f"| sequential PyTorch ({tor['threads']} thread{'s' if tor['threads'] > 1 else ''}, the faster) | "
                  f"{tor['total_s']:.1f} | - | 1.0x |",
                  f"| naive JAX loop (jitted step, Python loops) | {nv['total_s']:.1f} | "
                  f"{nv['compile_s'] * nv['configs'] / nv['timed_configs']:.1f} | "
                  f"{tor['total_s'] / nv['total_s']:.1f}x |",
                  "", f"- useful matmul FLOPs {nd['useful_flops'] / 1e9:.1f} GFLOP; nndl achieved "
                      f"{gflops:.1f} GFLOP/s useful ({100 * gflops / roof['jax_gflops']:.0f} % of the JAX roofline), "
                      f"{nd['executed_flops'] / nd['run_s'] / 1e9:.1f} GFLOP/s executed",
                  f"- padding: {100 * nd['padding_waste']:.0f} % of executed FLOPs (buckets {nd['buckets']})",
                  "- PyTorch 1 thread vs 2 threads: "
                  + ", ".join(f"{t['extrapolated_s']:.0f} s" for t in r["torch_all"]),
                  ""]
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--case":
        kind, *rest = sys.argv[2:]
        if kind == "nndl":
            res = case_nndl(rest[0], int(rest[1]), int(rest[2]))
        elif kind == "torch":
            res = case_torch(rest[0], int(rest[1]), int(rest[2]))
        elif kind == "naive":
            res = case_naive_jax(rest[0], int(rest[1]))
        elif kind == "replay":
            res = replay.case(rest)
        else:
            res = case_roofline()
        print(json.dumps(res))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["dd", "lr"], default=None)
    parser.add_argument("--sample", type=int, default=1, help="time baselines on every k-th config")
    parser.add_argument("--devices", type=int, default=os.cpu_count() or 1, help="host devices for nndl")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--replay", action="store_true",
                        help="the experiments as users run them (--quick) vs a PyTorch replay of their sweep.json; "
                             "appends a section to --out")
    parser.add_argument("--threads", default="1,2", help="--replay: PyTorch thread counts to time (the faster counts)")
    parser.add_argument("--experiments", default=",".join(replay.EXPERIMENTS), help="--replay: which experiments")
    parser.add_argument("--torch-from", type=Path, default=None,
                        help="--replay: reuse the PyTorch seconds of this earlier RESULTS-replay-*.json where the "
                             "sweep.json work is the same")
    args = parser.parse_args()
    if args.replay:
        res = replay.bench(args.sample, tuple(int(t) for t in args.threads.split(",")),
                           tuple(args.experiments.split(",")),
                           json.loads(args.torch_from.read_text()) if args.torch_from else None)
        text = replay.markdown(res)
        with open(args.out, "a") as f:
            f.write("\n" + text)
        isa = res["cpu"]["isa"].lower().replace("-", "")
        stem = f"RESULTS-replay-{isa}{'-emulated' if res['cpu']['emulated_avx2'] else ''}"
        (HERE / f"{stem}.json").write_text(json.dumps(res, indent=2))
        print(text)
        return
    roof = run_case(["roofline"])
    problems = [args.only] if args.only else ["dd", "lr"]
    results = {p: bench_problem(p, args.sample, args.devices) for p in problems}
    text = markdown(results, roof, args.sample, args.devices)
    args.out.write_text(text)
    (args.out.with_suffix(".json")).write_text(json.dumps({"roofline": roof, "results": results}, indent=2))
    print(text)


if __name__ == "__main__":
    main()
