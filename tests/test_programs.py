"""The engine's store of compiled programs (nndl.sweep.programs): a rerun loads the executable instead of tracing,
lowering and compiling; the results are those of the compiled run; the key moves with everything the program
depends on; a damaged entry is dropped and compiled afresh."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from nndl import train
from nndl.sweep import programs
from tests.test_sweep import make_data

ROOT = Path(__file__).resolve().parents[1]
GRID = {"width": [4, 8, 8], "lr": [0.01, 0.02, 0.05], "seed": [0, 1, 2], "epochs": [40, 40, 30]}


@pytest.fixture
def store(tmp_path):
    programs.configure(tmp_path / "programs")
    before = dict(programs.STATS)
    yield tmp_path / "programs", before
    programs.configure(None)


def run():
    return train.run_mlp_sweep(GRID, make_data(), depth=2, n_buckets=2, chunk_epochs=20, n_record=8)


def delta(before):
    return {k: programs.STATS[k] - before[k] for k in before}


def test_a_rerun_loads_the_stored_programs_and_gives_the_same_results(store):
    folder, before = store
    first = run()
    assert delta(before) == {"loaded": 0, "compiled": 2, "stored": 2, "dropped": 0}  # init + chunk
    assert sorted(p.name.split("-")[0] for p in folder.iterdir()) == ["chunk", "init"]
    programs.clear()  # as a new process: nothing in memory, the entries on disk
    second = run()
    assert delta(before) == {"loaded": 2, "compiled": 2, "stored": 2, "dropped": 0}
    for name in ("train_loss", "test_loss"):  # the same executable: bit-identical
        np.testing.assert_array_equal(first.curves[name], second.curves[name])
        np.testing.assert_array_equal(first.final[name], second.final[name])


def test_a_damaged_entry_is_dropped_and_compiled_afresh(store):
    folder, before = store
    reference = run()
    for path in folder.iterdir():
        path.write_bytes(path.read_bytes()[:100])  # truncated
    programs.clear()
    again = run()
    assert delta(before) == {"loaded": 0, "compiled": 4, "stored": 4, "dropped": 2}
    np.testing.assert_array_equal(reference.final["test_loss"], again.final["test_loss"])


def test_a_loaded_program_that_refuses_its_arguments_is_dropped_and_compiled(store, monkeypatch):
    """A loaded executable that the runtime refuses before running (INVALID_ARGUMENT, as a program JAX compiled for
    fewer devices) costs a compile, not the run."""
    _, before = store
    reference = run()
    programs.clear()

    def refusing(*args):
        raise jax.errors.JaxRuntimeError("INVALID_ARGUMENT: Attempted to execute with 2 argument lists when local "
                                         "device count is 1")

    monkeypatch.setattr(programs, "_load", lambda path: refusing if path.exists() else None)
    again = run()
    assert delta(before) == {"loaded": 0, "compiled": 4, "stored": 4, "dropped": 2}
    np.testing.assert_array_equal(reference.final["test_loss"], again.final["test_loss"])


def test_the_store_keeps_the_most_recently_used_entries(tmp_path):
    for i, size in enumerate([300, 200, 100, 400]):
        path = tmp_path / f"chunk-{i}.bin"
        path.write_bytes(b"x" * size)
        os.utime(path, (1000 + i, 1000 + i))
    os.utime(tmp_path / "chunk-0.bin", (2000, 2000))  # the oldest entry was loaded last
    programs.prune(tmp_path, 750)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chunk-0.bin", "chunk-3.bin"]  # 1 and 2 were oldest


def test_a_program_that_ignores_every_input_is_not_stored():
    """JAX compiles a program that ignores all its inputs for one device, and a loaded copy fails on inputs over
    several devices: such a program runs from memory only. Ignoring some inputs is fine (kept indices survive)."""
    x = np.ones(3, np.float32)
    assert programs.storable(jax.jit(lambda a, b: a * 2).lower(x, x).compile())
    assert not programs.storable(jax.jit(lambda a, b: np.float32(1.0)).lower(x, x).compile())


def test_off_without_a_folder(tmp_path):
    programs.configure(None)
    before = dict(programs.STATS)
    run()
    assert delta(before) == {"loaded": 0, "compiled": 0, "stored": 0, "dropped": 0}


def test_the_key_moves_with_what_the_program_depends_on(monkeypatch):
    task = train.make_task(train.make_spec(d_in=3, d_out=2, depth=2, max_width=8, n_train=24, batch_sizes=[24]))
    other = train.make_task(train.make_spec(d_in=3, d_out=2, depth=3, max_width=8, n_train=24, batch_sizes=[24]))
    x32 = np.zeros((4, 3), np.float32)
    base = programs.key("chunk", ((task,), ("loss",), "s"), (x32,))
    assert base == programs.key("chunk", ((task,), ("loss",), "s"), (np.ones((4, 3), np.float32),))  # values: no
    changed = [
        programs.key("init", ((task,), ("loss",), "s"), (x32,)),  # the program
        programs.key("chunk", ((other,), ("loss",), "s"), (x32,)),  # a task (its name: the static spec)
        programs.key("chunk", ((task,), ("loss", "acc"), "s"), (x32,)),  # a static argument
        programs.key("chunk", ((task,), ("loss",), "s"), (np.zeros((5, 3), np.float32),)),  # a shape
        programs.key("chunk", ((task,), ("loss",), "s"), (x32.astype(np.float64),)),  # a dtype
        programs.key("chunk", ((task,), ("loss",), "s"), ((x32,),)),  # the tree structure
    ]
    monkeypatch.setenv("XLA_FLAGS", os.environ.get("XLA_FLAGS", "") + " --xla_cpu_enable_fast_math=false")
    changed.append(programs.key("chunk", ((task,), ("loss",), "s"), (x32,)))  # compiler flags
    monkeypatch.undo()
    monkeypatch.setattr(programs, "_package_source", lambda name: f"edited {name}")
    changed.append(programs.key("chunk", ((task,), ("loss",), "s"), (x32,)))  # the source code
    monkeypatch.undo()
    with jax.default_matmul_precision("highest"):  # a jax.config value
        changed.append(programs.key("chunk", ((task,), ("loss",), "s"), (x32,)))
    assert len({base, *changed}) == len(changed) + 1
    assert programs.key("chunk", ((task,), ("loss",), "s"), (x32,)) == base  # and back


def test_the_source_hash_reads_every_module_of_the_package():
    """An edit anywhere in nndl (not only the engine) changes the key: the hash covers every .py file."""
    root = Path(programs.__file__).resolve().parents[1]
    n_files = len(list(root.rglob("*.py")))
    assert n_files > 40
    assert programs._package_source("nndl") is not None and len(programs._package_source("nndl")) == 64


def test_a_second_process_loads_what_the_first_stored(tmp_path):
    """The real use: two fresh processes (two host devices each) on one cache folder; the second loads both
    programs and traces neither."""
    script = (
        "import json, sys, jax\n"
        "from jax import monitoring\n"
        "events = []\n"
        "monitoring.register_event_duration_secs_listener(lambda e, d, **k: events.append(e))\n"
        "from nndl.sweep import programs\n"
        "programs.configure(sys.argv[1])\n"
        "from tests.test_programs import run\n"
        "res = run()\n"
        "print(json.dumps({'stats': programs.STATS, 'traced': sum('jaxpr_trace' in e for e in events),"
        " 'test': res.final['test_loss'].tolist()}))\n")
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT),  # configs over two devices
           "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    outs = []
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-c", script, str(tmp_path / "programs")], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=240)
        assert proc.returncode == 0, proc.stderr[-2000:]
        outs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert outs[0]["stats"]["compiled"] == 2 and outs[1]["stats"] == {"loaded": 2, "compiled": 0, "stored": 0,
                                                                        "dropped": 0}
    assert outs[0]["traced"] >= 2 and outs[1]["traced"] <= outs[0]["traced"] - 2  # init and chunk not traced
    assert outs[0]["test"] == outs[1]["test"]
