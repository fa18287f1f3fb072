import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from nndl.run import runio


def test_metrics_never_contain_nan_literals(tmp_path):
    metrics = {"a": float("nan"), "b": [1.0, float("inf")], "c": {"d": np.float32(-np.inf)}, "e": np.arange(3)}
    runio.write_metrics(tmp_path, metrics)
    text = (tmp_path / "metrics.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    loaded = json.loads(text)
    assert loaded["a"] is None and loaded["b"] == [1.0, None] and loaded["c"]["d"] is None
    assert loaded["e"] == [0, 1, 2]
    assert loaded["nonfinite"] == ["a", "b[1]", "c.d"]


def test_finite_metrics_have_no_flag(tmp_path):
    runio.write_metrics(tmp_path, {"x": np.float64(1.5), "ok": np.bool_(True)})
    assert runio.read_json(tmp_path / "metrics.json") == {"x": 1.5, "ok": True}


def test_crash_mid_write_leaves_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "metrics.json"
    runio.write_json(path, {"v": 1})

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        runio.write_json(path, {"v": 2})
    assert runio.read_json(path) == {"v": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]  # temp file cleaned up


def test_crash_during_fsync_leaves_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    runio.save_curves(path, a=np.ones(3))
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        runio.save_curves(path, a=np.zeros(5))
    np.testing.assert_array_equal(runio.load_curves(path)["a"], np.ones(3))


def test_config_records_versions_and_device(tmp_path):
    runio.write_config(tmp_path, {"lr": 0.1, "widths": [1, 2]})
    cfg = runio.read_json(tmp_path / "config.json")
    assert cfg["config"] == {"lr": 0.1, "widths": [1, 2]}
    for k in ("python", "jax", "flax", "optax", "device_kind"):
        assert cfg["environment"][k]


def test_figure_is_png(tmp_path):
    from nndl.run.plotting import save_figure, subplots

    fig, ax = subplots()
    ax[0, 0].plot([0, 1], [0, 1])
    save_figure(fig, tmp_path / "f.png")
    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unknown_type_is_an_error():
    with pytest.raises(TypeError, match="at x"):
        runio.dumps({"x": object()})
    assert math.isfinite(json.loads(runio.dumps({"y": 2.0}))["y"])


# ------------------------------------------------------------------ run-folder ownership
@pytest.mark.parametrize("make, needle", [
    (lambda tmp: (tmp / "f").write_text("x") and tmp / "f" / "run", "a component of the path is a file"),
    (lambda tmp: (tmp / "f").write_text("x") and tmp / "f", "exists and is not a folder"),
    (lambda tmp: (tmp / "run" / "metrics.json").mkdir(parents=True) or tmp / "run", "metrics.json is a folder"),
    (lambda tmp: "/proc", "cannot write in this folder"),
])
def test_check_folder_refuses_an_unusable_out(tmp_path, make, needle):
    with pytest.raises(runio.ConfigError, match=needle):
        runio.check_folder(Path(make(tmp_path)))


def test_check_folder_creates_the_folder(tmp_path):
    runio.check_folder(tmp_path / "a" / "b")
    assert (tmp_path / "a" / "b").is_dir() and not list((tmp_path / "a" / "b").iterdir())


def test_the_lock_refuses_a_live_owner_and_takes_over_a_dead_one(tmp_path):
    first = runio.RunFolder(tmp_path, "x")
    assert first.acquire() is None
    assert (tmp_path / runio.LOCK).read_text() == f"{os.getpid()}\n"
    with pytest.raises(runio.ConfigError, match=rf"is in use by another run \(pid {os.getpid()}\)"):
        runio.RunFolder(tmp_path, "x").acquire()  # a second open file description: flock refuses it
    first.release()
    assert not (tmp_path / runio.LOCK).exists()
    (tmp_path / runio.LOCK).write_text("999999999\n")  # a dead run's lock (no such pid)
    again = runio.RunFolder(tmp_path, "x")
    assert again.acquire() == f"took over {tmp_path / runio.LOCK}: its run (pid 999999999) is no longer running"
    again.release()


def test_start_removes_the_previous_results_and_lists_the_new_outputs(tmp_path):
    runio.write_json(tmp_path / "status.json", {"status": "ok", "outputs": ["old.png", "curves.npz", "../x"]})
    for name in ("old.png", "curves.npz", "metrics.json", "checkpoint.npz", "mine.txt", ".metrics.json.ab.tmp"):
        (tmp_path / name).write_text("previous run")
    folder = runio.RunFolder(tmp_path, "x")
    folder.acquire()
    folder.start({"lr": 0.1})
    # the previous run's results are gone before this run's config is written; checkpoints and the user's files stay
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock", "checkpoint.npz", "config.json", "mine.txt",
                                                         "status.json"]
    assert runio.read_json(tmp_path / "status.json")["status"] == "running"
    runio.save_curves(tmp_path / "curves.npz", a=np.ones(2))
    runio.write_metrics(tmp_path, {"a": 1})
    assert runio.read_json(tmp_path / "status.json")["outputs"] == ["curves.npz"]  # metrics.json is always a result
    folder.finish("ok")
    folder.release()
    status = runio.read_json(tmp_path / "status.json")
    assert status["status"] == "ok" and status["pid"] == os.getpid() and status["wall_time_s"] >= 0
    runio.save_curves(tmp_path / "after.npz", a=np.ones(2))  # no run owns the folder now: nothing recorded
    assert runio.read_json(tmp_path / "status.json")["outputs"] == ["curves.npz"]
