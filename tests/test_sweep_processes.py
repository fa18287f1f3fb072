"""Sweep engine across processes: sharding over forced host devices, and resume after SIGKILL."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from nndl.run import runio
from tests.helpers import ROOT, run_module


def _run(out, devices=None, expect_resume=False):
    env = {"XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"} if devices else {}
    proc = run_module("tests.sweep_script", str(out), env=env)
    assert proc.returncode == 0, proc.stderr
    assert ("resuming from" in proc.stderr) == expect_resume, proc.stderr
    return runio.load_curves(out / "result.npz")


def _assert_same(a, b, exact=True):
    """exact: only for the same program on the same shapes and device count (a resumed run)."""
    for k in a:
        if k == "devices":
            continue
        if exact:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
        else:
            # different partitioning may change XLA's fusion/summation order: float32 rounding only
            np.testing.assert_allclose(a[k], b[k], rtol=2e-5, atol=1e-6, err_msg=k)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One uninterrupted, unsharded run shared by both tests."""
    return _run(tmp_path_factory.mktemp("ref"), devices=1)


def test_sharded_over_four_host_devices_equals_unsharded(tmp_path, reference):
    one = reference
    four = _run(tmp_path / "four", devices=4)
    assert int(one["devices"]) == 1 and int(four["devices"]) == 4
    _assert_same(one, four, exact=False)


def test_kill_mid_sweep_then_rerun_equals_uninterrupted(tmp_path, reference):
    out = tmp_path / "killed"
    out.mkdir()
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "NNDL_PROGRESS": "0",
           "XLA_FLAGS": "--xla_force_host_platform_device_count=1"}
    proc = subprocess.Popen([sys.executable, "-m", "tests.sweep_script", str(out), "--slow"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = out / "sweep_checkpoint.npz"
    deadline = time.time() + 240
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert ckpt.exists(), "no checkpoint was written"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = int(runio.load_curves(ckpt)["chunks_done"])
    assert 1 <= done < 4, f"killed after {done} of 4 chunks"  # genuinely mid-sweep
    assert not (out / "result.npz").exists()
    resumed = _run(out, devices=1, expect_resume=True)
    _assert_same(reference, resumed, exact=True)
