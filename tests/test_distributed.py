"""Several processes through jax.distributed on 127.0.0.1 (gloo): one run folder, the metrics of one process,
kill-and-resume; the process flags' user errors."""

import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from nndl.run import runio
from tests.helpers import ROOT

DD = ["--widths", "2,6", "--epochs", "24", "--n-train", "12", "--n-train-large", "24", "--lr", "0.01", "--buckets", "1",
      "--seeds", "2", "--data-draws", "1", "--n-test", "40", "--chunk-epochs", "8", "--curve-widths", "6"]
IR = ["--lrs", "0.05,0.1", "--seeds", "1", "--data-draws", "2", "--epochs", "20", "--wd-epochs", "10", "--width", "6",
      "--depth", "2", "--batch-size", "10", "--weight-decays", "0.001,0.01,0.1", "--stop-loss", "0.6", "--n-val", "40",
      "--n-test", "40", "--chunk-epochs", "10"]
TIMEOUT = 300


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env(devices: int) -> dict:
    return {**os.environ, "JAX_PLATFORMS": "cpu", "NNDL_PROGRESS": "0", "NNDL_COMPILATION_CACHE": "0",
            "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}


def start(module: str, args: list[str], *, processes: int, devices: int) -> list[subprocess.Popen]:
    """`processes` copies of `python -m module args`, joined into one process group on 127.0.0.1 when > 1."""
    port = free_port()
    procs = []
    for pid in range(processes):
        extra = ["--coordinator", f"127.0.0.1:{port}", "--num-processes", str(processes),
                 "--process-id", str(pid)] if processes > 1 else []
        procs.append(subprocess.Popen([sys.executable, "-m", module, *args, *extra], cwd=ROOT, env=env(devices),
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    return procs


def finish(procs: list[subprocess.Popen]) -> list[tuple[int, str]]:
    out = []
    for p in procs:
        try:
            _, err = p.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
        out.append((p.returncode, err))
    return out


def run(module, args, *, processes, devices):
    results = finish(start(module, args, processes=processes, devices=devices))
    for rc, err in results:
        assert rc == 0, err[-2000:]
    return results


def assert_metrics_close(a: dict, b: dict, keys, rtol: float) -> None:
    for key in keys:
        np.testing.assert_allclose(np.asarray(a[key], float), np.asarray(b[key], float), rtol=rtol, err_msg=key)


@pytest.mark.parametrize("module, args, keys", [
    ("experiments.double_descent", DD, ["train_loss", "test_loss", "test_loss_se"]),
    ("experiments.implicit_reg", IR, ["final_train_loss", "test_loss", "grad_norm_sq", "minibatch_grad_var"]),
], ids=["double_descent", "implicit_reg"])
def test_two_processes_write_one_run_folder_with_the_one_process_metrics(tmp_path, module, args, keys):
    import importlib

    # one process: in this pytest process (one device); two processes: one device each, joined on 127.0.0.1
    assert importlib.import_module(module).main([*args, "--out", str(tmp_path / "one")]) == 0
    results = run(module, [*args, "--out", str(tmp_path / "two")], processes=2, devices=1)
    one = runio.read_json(tmp_path / "one" / "metrics.json")
    two = runio.read_json(tmp_path / "two" / "metrics.json")
    # float32 rounding only (the config axis is split over 2 devices instead of 1, results gathered across processes)
    assert_metrics_close(one, two, keys, rtol=1e-4)
    config = runio.read_json(tmp_path / "two" / "config.json")
    assert config["environment"]["process_count"] == "2" and config["environment"]["device_count"] == "2"
    assert runio.read_json(tmp_path / "two" / "status.json")["status"] == "ok"
    assert "done in" not in results[1][1]  # process 1 writes nothing and reports nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "two"]


def test_killed_processes_resume_from_process_0s_checkpoint(tmp_path):
    """tests.sweep_script in 2 processes, both killed mid-sweep, then rerun: equal to an uninterrupted run."""
    reference = tmp_path / "ref"
    reference.mkdir()
    run("tests.sweep_script", [str(reference)], processes=1, devices=2)
    out = tmp_path / "killed"
    out.mkdir()
    procs = start("tests.sweep_script", [str(out), "--slow"], processes=2, devices=1)
    ckpt = out / "sweep_checkpoint.npz"
    deadline = time.time() + TIMEOUT
    while not ckpt.exists() and time.time() < deadline and all(p.poll() is None for p in procs):
        time.sleep(0.1)
    assert ckpt.exists(), "no checkpoint was written"
    for p in procs:
        os.kill(p.pid, signal.SIGKILL)
        p.communicate()  # reaps it and closes its pipes
    done = int(runio.load_curves(ckpt)["chunks_done"])
    assert 1 <= done < 4, f"killed after {done} of 4 chunks"
    results = run("tests.sweep_script", [str(out)], processes=2, devices=1)
    assert "resuming from" in results[0][1]
    a, b = runio.load_curves(reference / "result.npz"), runio.load_curves(out / "result.npz")
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=2e-5, atol=1e-6, err_msg=k)


