"""experiments.lipschitz (package): smoke run, estimates against jacfwd/SVD and numpy, report entries, bad flags,
a diverged pair search."""

import jax
import numpy as np
import pytest

from experiments import lipschitz as E
from experiments.lipschitz import report as rep
from experiments.lipschitz import run as lip_run
from nndl.models import resnet
from nndl.run import runio
from tests.helpers import ENTRY_KEYS, calls_recorded, check_report_entries, check_template

SMALL = {"dim": 4, "hidden": 6, "depths": [1, 2, 3], "n_inputs": 8, "n_iter": 100, "sn_iter": 200, "n_pairs": 4,
         "pair_steps": 10, "bn_scales": [0.1, 1.0], "bn_batch": 8, "bn_batches": 60, "seed": 2}
FLAGS = ["--dim", "4", "--hidden", "6", "--depths", "1,2,3", "--n-inputs", "8", "--n-iter", "100", "--sn-iter", "200",
         "--n-pairs", "4", "--pair-steps", "10", "--bn-scales", "0.1,1", "--bn-batch", "8", "--bn-batches", "60",
         "--seed", "2"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("lipschitz")
    with calls_recorded(CODE) as ran:
        assert E.main([*FLAGS, "--out", str(out)]) == 0
    RAN.update(ran)
    return out


CODE = ["nndl.models.resnet.residual", "nndl.models.resnet.spectral_normalize",
        "experiments.lipschitz.estimates.jacobian_sigma_max",
        "experiments.lipschitz.estimates.power_iteration_estimates",
        "experiments.lipschitz.estimates.pair_ratio", "experiments.lipschitz.estimates.pair_search",
        "nndl.models.resnet.apply", "experiments.lipschitz.run.depth_estimates", "nndl.models.bn_block.apply",
        "nndl.models.bn_block.eval_scale", "nndl.models.bn_block.eval_lipschitz_bound",
        "nndl.models.bn_block.collect_statistics", "experiments.lipschitz.run.batch_dependence"]
RAN: set = set()


@pytest.fixture(scope="module")
def metrics(run_dir):
    return runio.read_json(run_dir / "metrics.json")


@pytest.fixture(scope="module")
def arrays():
    """The run's network and inputs, rebuilt from its seed as `run` does."""
    config = {**E.get_config(), **SMALL}
    key = jax.random.split(jax.random.key(config["seed"]), 3)[0]
    out = lip_run.draw(key, config["pair_delta"], dim=4, hidden=6, max_depth=3, n_inputs=8, n_pairs=4, sn_iter=200,
                 bn_batches=60, bn_batch=8)
    return config, jax.tree.map(np.asarray, out)


def test_run_folder_and_keys(run_dir, metrics):
    for name in ("config.json", "metrics.json", "status.json", "curves.npz", "bounds.png", "batchnorm.png"):
        assert (run_dir / name).stat().st_size > 0
    assert [r["depth"] for r in metrics["per_depth"]] == [1, 2, 3]
    for row in metrics["per_depth"]:
        assert {"depth", "upper_bound", "estimate_power_iteration", "estimate_pair_search"} <= row.keys()
        assert row["upper_bound"] == 2.0 ** row["depth"]
    assert {"by_data_scale", "train_mode"} <= metrics["batchnorm"].keys()
    assert "nonfinite" not in metrics


def test_every_check_passes_and_the_report_answers_a_b_c(metrics):
    assert not [c.check for c in rep.checks(metrics) if not c.passed]
    assert [s.question[:6] for s in rep.report(metrics)] == ["§4 (a)", "§4 (b)", "§4 (c)"]
    assert not any(r["pair_search_diverged"] for r in metrics["per_depth"])


@jax.jit
def _references(params, depth, xs, pair_xs, pair_deltas):
    """Jacobians at xs (jacfwd) and outputs at both ends of each starting pair; depth traced, one compile."""
    def one(x):
        return resnet.apply(params, x, depth=depth)

    f = jax.vmap(one)
    return jax.vmap(jax.jacfwd(one))(xs), f(pair_xs), f(pair_xs + pair_deltas)


def test_estimates_match_independent_references(metrics, arrays):
    _, a = arrays
    norms = [np.linalg.norm(a["params"][w], 2, axis=(1, 2)) for w in ("w1", "w2")]
    for row in metrics["per_depth"]:
        d = row["depth"]
        jac, fx, fy = map(np.asarray, _references(a["params"], d, a["xs"], a["pair_xs"], a["pair_deltas"]))
        # largest singular value of jacfwd's Jacobian over the same inputs (numpy SVD)
        assert row["estimate_power_iteration"] == pytest.approx(np.linalg.norm(jac, 2, axis=(1, 2)).max(), rel=1e-4)
        # the pair search keeps its best ratio, so it is at least the best starting pair's
        start = np.linalg.norm(fx - fy, axis=1) / np.linalg.norm(a["pair_deltas"], axis=1)
        assert row["estimate_pair_search"] >= start.max() * (1 - 1e-5)
        certified = np.prod(1 + norms[0][:d] * norms[1][:d])
        assert row["upper_bound_exact_norms"] == pytest.approx(certified, rel=1e-5)
        for est in (row["estimate_power_iteration"], row["estimate_pair_search"]):
            assert est <= certified * (1 + 1e-5) and est <= row["upper_bound"] * (1 + 1e-4)
        assert row["tight_example_estimate"] == pytest.approx(2.0**d, rel=1e-6)


def test_batchnorm_numbers_match_a_numpy_running_average(metrics, arrays):
    config, a = arrays
    w1, b1 = a["params"]["w1"][0], a["params"]["b1"][0]
    m = config["bn_momentum"]
    for row in metrics["batchnorm"]["by_data_scale"]:
        var = np.ones(6)
        for xs in row["data_scale"] * a["bn_batches"]:
            var = m * var + (1 - m) * (xs @ w1 + b1).var(0)
        slope = 1 / np.sqrt(var + config["bn_epsilon"])  # γ = 1: BatchNorm's scale is not trained here
        assert row["max_bn_scale"] == pytest.approx(slope.max(), rel=1e-4)
        assert row["running_var_mean"] == pytest.approx(var.mean(), rel=1e-4)
        # ‖W1‖ = ‖W2‖ = 1 up to power-iteration error: bound = 1 + max slope
        assert row["lipschitz_bound"] == pytest.approx(1 + slope.max(), rel=1e-4)
        assert row["estimate_power_iteration"] <= row["lipschitz_bound"] * (1 + 1e-4)
    small, large = metrics["batchnorm"]["by_data_scale"]
    assert small["lipschitz_bound"] > large["lipschitz_bound"] > 2  # smaller data variance -> larger constant
    tm = metrics["batchnorm"]["train_mode"]
    assert tm["eval_cross_jacobian_norm"] == 0 and tm["eval_output_change_other_batch"] == 0
    assert tm["train_cross_jacobian_norm"] > 0 and tm["train_output_change_other_batch"] > 0
    # example 0's own Lipschitz constant in train mode depends on the batch it sits in
    assert tm["train_self_jacobian_sigma_batch_a"] != tm["train_self_jacobian_sigma_batch_b"]
    assert tm["eval_self_jacobian_sigma"] <= metrics["batchnorm"]["by_data_scale"][1]["lipschitz_bound"] * (1 + 1e-4)


def test_report_entries_complete_and_listed_code_ran(metrics):
    entries = check_report_entries(rep, metrics, RAN, required=ENTRY_KEYS)
    assert sorted({n for e in entries for n in e["code"]}) == sorted(CODE)
    assert [e["ids"] for e in entries] == [["000 §4(a)"], ["000 §4(b)"], ["000 §4(c)"]]
    check_template({k: v for k, v in rep.TEXT.items() if not k.startswith("c_above") and not k.startswith("c_below")},
                   rep.report_fields(metrics))
    a, b, c = (e["derivation"] for e in entries)
    assert "1 + L_F" in a and "(1 + L_F)^L = 2^L" in b and "\\hat\\sigma_j^2" in c


def test_numbers_and_wording_of_the_texts(metrics):
    f = rep.report_fields(metrics)
    rows, scales = metrics["per_depth"], metrics["batchnorm"]["by_data_scale"]
    # recomputed from the rows: estimates inside 2^L, BN factors of the smallest and largest data scale
    n_within = sum(max(r["estimate_power_iteration"], r["estimate_pair_search"]) <= 2.0 ** r["depth"] * (1 + 1e-4)
                   for r in rows)
    assert f["n_within"] == n_within == len(rows)
    lo, hi = min(scales, key=lambda r: r["data_scale"]), max(scales, key=lambda r: r["data_scale"])
    assert f["bn_ratio"] == pytest.approx(lo["max_bn_scale"] / hi["max_bn_scale"], rel=1e-12)
    assert f["var_ratio"] == pytest.approx(np.sqrt(hi["running_var_mean"] / lo["running_var_mean"]), rel=1e-12)
    # the sentence about the BN-free bound 2 follows the largest eval-mode estimate
    for est, words in ((2.5, "exceeds the BN-free bound 2"), (1.5, "stays below the BN-free bound 2")):
        shifted = {**metrics, "batchnorm": {**metrics["batchnorm"],
                                            "by_data_scale": [{**r, "estimate_power_iteration": est} for r in scales]}}
        text = rep.report(shifted)[2].text
        assert words in text and f"{est:.3g}" in text


def test_a_diverged_pair_search_is_reported_as_null_with_a_flag(run_dir, metrics, tmp_path, capsys):
    """--pair-lr 1e30 sends the pairs to inf/NaN: null estimates and a flag, a report and failing checks, no crash.

    Same flags as the smoke run otherwise, so every jitted part (pair_lr is traced) reuses its compile.
    """
    capsys.readouterr()
    assert E.main([*FLAGS, "--pair-lr", "1e30", "--out", str(tmp_path)]) == 0
    err = capsys.readouterr().err  # every pair search diverged: one warning line naming them, exit 0
    assert err.count("\n") == 1 and "every config diverged (the pair search at L = 1, 2, 3, --pair-lr 1e+30)" in err
    m = runio.read_json(tmp_path / "metrics.json")
    assert "nonfinite" not in m and (tmp_path / "bounds.png").stat().st_size > 0
    for row, ok in zip(m["per_depth"], metrics["per_depth"]):
        assert row["pair_search_diverged"] is True and row["estimate_pair_search"] is None
        # the power iteration does not depend on the pair search: the smoke run's value, and the only estimate
        assert row["estimate_power_iteration"] == ok["estimate_power_iteration"]
        assert row["estimate_over_bound"] == pytest.approx(row["estimate_power_iteration"] / 2.0 ** row["depth"])
    entries = check_report_entries(rep, m, required=ENTRY_KEYS)
    assert "The pair search diverged at $L$ = 1, 2, 3" in entries[1]["text"]
    assert "holds for 1 of 1" in entries[0]["text"]
    assert [row[4] for row in entries[1]["table"][1:]] == ["diverged"] * 3
    failed = [c.check for c in rep.checks(m) if not c.passed]
    assert failed == [f"L = {d}: pair search stayed finite" for d in (1, 2, 3)]
    # a single diverged depth is named alone; the others keep their pair-search estimates
    one = {**metrics, "per_depth": [{**r, "estimate_pair_search": None, "pair_search_diverged": True} if i == 1 else r
                                    for i, r in enumerate(metrics["per_depth"])]}
    assert rep.report_fields(one)["diverged_depths"] == "2" and rep.report_fields(one)["one_n"] == 2
    assert [c.check for c in rep.checks(one) if not c.passed] == ["L = 2: pair search stayed finite"]
