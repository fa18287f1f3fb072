"""experiments.linear_models.grid_search: selection, positions on the grid axes with paired neighbour differences,
the one-call timing, and the sweep sharded over all devices with one compile per program."""

import json
import os
import re
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest

from experiments.linear_models import grid_search
from experiments.linear_models import report as rep
from experiments.linear_models.config import AXES
from tests.helpers import ROOT
from tests.test_linear import numpy_sgd


def test_axis_positions_natural_bound_and_interior():
    config = {"batch_sizes": [1, 2], "lrs": [0.1, 0.2, 0.3], "epochs": [5], "alphas": [0.0, 0.5]}
    grid = grid_search.grid_of(config)
    flat = grid.flat()
    assert grid.shape == (2, 3, 1, 2) and grid.names == AXES
    # one feature, validation x = (1, 2), y = 0: MSE = 2.5 w^2 with b = 0; the best w sits at lr 0.2, alpha 0
    w = np.abs(flat["lr"] - 0.2) + flat["alpha"] + 0.1 * (flat["batch_size"] == 2) + 0.01
    x_val, y_val = np.array([[1.0], [2.0]]), np.zeros(2)
    val = 2.5 * w ** 2
    best = int(np.argmin(val))
    pos = grid_search.axis_positions(grid, best, val, np.zeros(len(w), bool), w[:, None], np.zeros(len(w)), x_val,
                                     y_val)
    assert pos["lr"]["where"] == "interior" and pos["lr"]["value"] == 0.2
    assert pos["alpha"]["at_natural_bound"] and pos["alpha"]["where"] == "lowest"
    assert pos["batch_size"]["where"] == "lowest" and not pos["batch_size"]["at_natural_bound"]
    assert pos["lr"]["upper"]["diff"] == pytest.approx(val[best + 2] - val[best])  # lr is the 2nd axis: stride 2
    m = {"position": pos}
    assert rep.grid_edges(m) == ["batch size", "epochs"]  # a one-value axis is its own edge
    assert "cannot be extended" in rep.axis_sentence("alpha", pos["alpha"])


def test_select_skips_diverged_and_nonfinite():
    val = np.array([5.0, 1.0, np.nan, 3.0, 2.0])
    assert grid_search.select(val, np.array([False, True, False, False, False])) == 4
    assert grid_search.select(val, np.ones(5, bool)) is None  # every config diverged: the grid reports it, exit 0


def test_steady_one_call_s_separates_compiling_only_with_several_chunks():
    # the first chunk compiles: counted at the later chunks' median, the rest is compile time (plus init)
    assert grid_search.steady_one_call_s({"chunk_s": [5.0, 1.0, 1.2, 0.8], "init_s": 0.5}) == (4.0, 4.5)
    # one chunk: its time includes compiling, which cannot be told apart
    assert grid_search.steady_one_call_s({"chunk_s": [5.0], "init_s": 0.5}) == (5.0, None)


# Run with 2 host devices in a fresh process (the device count is fixed when JAX starts): the grid's sweep over
# 3 chunks, jax.log_compiles() on, every "Compiling <program> ... Argument mapping: <shardings>" record kept.
SHARDED_SWEEP = """
import json, logging, sys
from pathlib import Path
import jax
import numpy as np
from experiments.linear_models import grid_search

records = []
class Keep(logging.Handler):
    def emit(self, record):
        records.append(record.getMessage())
logging.getLogger("jax").addHandler(Keep())
rng = np.random.default_rng(0)
x = rng.standard_normal((40, 3)).astype(np.float32)
y = (x @ np.array([1.0, -2.0, 0.5], np.float32) + 0.1 * rng.standard_normal(40)).astype(np.float32)
arrays = {"x_train": x[:30], "y_train": y[:30], "x_val": x[30:], "y_val": y[30:]}
config = {"seed": 0, "batch_sizes": [7, 30], "lrs": [0.01, 0.03, 0.1], "epochs": [3], "alphas": [0.0],
          "chunk_epochs": 1, "n_record": 3}
with jax.log_compiles():
    grid, result, _ = grid_search.train_grid(config, arrays, Path(sys.argv[1]))
print(json.dumps({"devices": len(jax.devices()), "chunks": len(result.timings["chunk_s"]), "records": records,
                  "arrays": {k: v.tolist() for k, v in arrays.items()}, "flat": {k: v.tolist() for k, v in
                  grid.flat().items()}, "w": result.w.tolist(), "b": result.b.tolist()}))
"""


def test_grid_sweep_is_sharded_over_all_devices_and_compiles_each_program_once(tmp_path):
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "NNDL_PROGRESS": "0",
           "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    proc = subprocess.run([sys.executable, "-c", SHARDED_SWEEP, str(tmp_path)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.splitlines()[-1])
    assert out["devices"] == 2 and out["chunks"] == 3
    compiled = [re.match(r"Compiling (\S+) with global shapes", r) for r in out["records"]]
    compiled = [(m.group(1), r) for m, r in zip(compiled, out["records"]) if m]
    # programs whose inputs are split over both devices along the config axis: the engine's init and chunk
    sharded = Counter(name for name, record in compiled if re.search(r"Mesh\('configs': 2\b", record))
    assert len(sharded) >= 2, compiled
    # three chunks of epochs, each program compiled once: the second chunk reuses the first's program
    assert max(sharded.values()) == 1, sharded
    # and the sharded (padded: 3 configs per bucket on 2 devices) run trains what numpy SGD trains
    data = {k: np.asarray(v, np.float32) for k, v in out["arrays"].items()}
    for i, (batch, lr) in enumerate(zip(out["flat"]["batch_size"], out["flat"]["lr"])):
        w, b = numpy_sgd(data, batch, 3, lr, 0.0, 0)
        np.testing.assert_allclose(out["w"][i], w, rtol=1e-4, atol=1e-5)  # float32 vs float64, <= 15 steps
        assert out["b"][i] == pytest.approx(b, abs=1e-5)
