import json
import math
import os

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
