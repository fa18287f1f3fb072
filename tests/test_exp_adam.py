"""experiments.adam (package): smoke run with every reported number checked against closed forms, optax or numpy."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from experiments import adam
from experiments.adam import decay, linear
from experiments.adam import report as rep
from experiments.adam import run as adam_run
from experiments.adam.config import OPTIMISERS, TASKS, VARIANTS
from nndl.run import runio
from nndl.train.mlp import epoch_permutation
from tests.helpers import calls_recorded, check_report_entries

# 80 training points in batches of 12: six full batches and a partial one of 8 per epoch
SMALL = ["--dim", "300", "--long-steps", "60", "--lambdas", "0.01,0.1", "--probe-lambda", "0.1",
         "--hidden", "16,16", "--decay-steps", "150", "--n-train", "40", "--n-test", "200",
         "--n-points", "100", "--epochs", "25", "--batch-size", "12"]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("adam")
    listed = sorted({name for entry in rep.report(FAKE_METRICS) for name in entry.code})
    with calls_recorded(listed) as ran:
        assert adam.main([*SMALL, "--out", str(out)]) == 0
    config = runio.read_json(out / "config.json")["config"]
    return runio.read_json(out / "metrics.json"), runio.load_curves(out / "curves.npz"), config, out, set(ran)


def _fake_metrics() -> dict:
    """The smallest metrics report() accepts: only used to list the code names before the smoke run."""
    row = {"ratio_bias_corrected": 1.0, "ratio_uncorrected": 3.0}
    task = {"optimum": {"train_loss": 1.0, "test_loss": 1.0},
            **{o: {"train_loss": 1.0, "test_loss": 1.0, "epochs_to_tolerance": 1, "epochs_to_stay": 1,
                   "final_gap": 0.0} for o in OPTIMISERS}}
    multiplier = {"l2": [1.0], "adamw": [1.0]}
    return {"first_step": {**row, "ratio_uncorrected_theory": 3.16, "dim": 1, "eps": 1e-8,
                           "eps_sweep": [{"eps": 1.0, **row}]},
            "effective_step": {"steps": 1, "warmup_steps": 1, "uncorrected_peak": 1.0, "uncorrected_peak_step": 1,
                               "uncorrected_last": 1.0, "long_steps": 1, **{v: [1.0] for v in VARIANTS}},
            "adamw_vs_l2": {"lambdas": [1.0], "l2": {k: [1.0] for k in ("test_loss", "weight_norm")},
                            "adamw": {k: [1.0] for k in ("test_loss", "weight_norm")}, "probe_lambda": 1.0,
                            "feature_scales": [1.0], "decay_multiplier": multiplier, "l2_multiplier_spread": 1.0,
                            "adamw_multiplier_spread": 1.0, "no_decay": {"test_loss": 1.0},
                            "best": {m: {"lambda": 1.0, "test_loss": 1.0} for m in ("l2", "adamw")}},
            "sgd_vs_adam": {**dict.fromkeys(TASKS, task), "tolerance": 0.01, "sgd_lr": 0.1, "adam_lr": 0.1},
            "settings": {"b1": 0.9, "b2": 0.999, "grad_scale": 1e-3, "n_features": 8}}


FAKE_METRICS = _fake_metrics()


def test_report_entries_complete_and_listed_code_ran(smoke):
    m, _, _, _, ran = smoke
    entries = check_report_entries(rep, m, ran)
    ids = {i for e in entries for i in e["ids"]}
    assert ids == {"000 §2(a)", "000 §2(b)", "000 §2(c)", "000 §2(d)", "003 4.3(a)", "003 4.3(b)"}
    assert all(e.get("derivation") for e in entries if set(e["ids"]) & {"000 §2(a)", "000 §2(b)", "000 §2(c)"})
    remedy = next(e for e in entries if e["ids"] == ["000 §2(c)"])["derivation"]
    assert "warm-up" in remedy and "larger $\\epsilon$" in remedy and "RAdam" in remedy


def test_files_keys_and_report(smoke):
    m, _, _, out, _ = smoke
    for name in ("first_step.png", "adamw_vs_l2.png", "sgd_vs_adam.png", "curves.npz"):
        assert (out / name).exists()
    assert not list(out.glob("checkpoint*"))  # both sweeps' checkpoints are removed once the run has finished
    assert set(m["first_step"]) >= {"ratio_bias_corrected", "ratio_uncorrected", "ratio_uncorrected_theory"}
    assert set(m) == {"first_step", "effective_step", "adamw_vs_l2", "sgd_vs_adam", "settings"}
    assert all(answer.text or answer.derivation for answer in rep.report(m))
    assert all(row.passed for row in rep.checks(m))


def test_first_step_closed_forms(smoke):
    m, c, config, _, _ = smoke
    g = np.abs(c["gradient"].astype(np.float64))
    b1, b2 = config["b1"], config["b2"]
    f = m["first_step"]
    assert f["ratio_uncorrected_theory"] == pytest.approx(0.1 / np.sqrt(0.001))  # 3.1623 for the defaults
    # float32 Adam vs float64 closed form: the moments carry ~1e-7 relative rounding; eps itself is stored
    # in float32 (relative 3e-8), so 1e-5 is generous.
    for row in [{"eps": config["eps"], **f}, *f["eps_sweep"]]:
        eps = np.float64(np.float32(row["eps"]))
        assert row["ratio_bias_corrected"] == pytest.approx(np.mean(g / (g + eps)), rel=1e-5)
        assert row["ratio_uncorrected"] == pytest.approx(np.mean((1 - b1) * g / (np.sqrt(1 - b2) * g + eps)), rel=1e-5)
    assert f["eps_sweep"][-1]["ratio_bias_corrected"] == pytest.approx(1.0, abs=1e-4)  # -> lr sign(g)
    assert f["eps_sweep"][-1]["ratio_uncorrected"] == pytest.approx(f["ratio_uncorrected_theory"], rel=1e-4)


def test_effective_steps_closed_forms(smoke):
    m, c, config, _, _ = smoke
    g = np.abs(c["gradient"].astype(np.float64))
    b1, b2, eps, warm = config["b1"], config["b2"], config["eps"], config["warmup_steps"]
    t = np.arange(1, config["long_steps"] + 1)[:, None]
    # constant gradient: m_t = (1 - b1^t) g, v_t = (1 - b2^t) g^2 exactly
    unc = np.mean((1 - b1**t) * g / (np.sqrt(1 - b2**t) * g + eps), axis=1)
    cor = np.full(t.shape[0], np.mean(g / (g + eps)))
    ramp = np.minimum(t[:, 0] / warm, 1.0)
    expected = {"uncorrected": unc, "bias_corrected": cor, "warmup_uncorrected": ramp * unc,
                "warmup_bias_corrected": ramp * cor}
    e = m["effective_step"]
    for name, ref in expected.items():
        # v accumulates rounding ~ ulp / (1 - b2) ~ 6e-5 relative in float32; sqrt halves it
        np.testing.assert_allclose(c[f"effective_{name}"], ref, rtol=2e-4)
        np.testing.assert_allclose(e[name], ref[: e["steps"]], rtol=2e-4)
    assert e["uncorrected_peak"] == pytest.approx(unc.max(), rel=2e-4)
    assert e["uncorrected_peak_step"] == int(np.argmax(unc)) + 1
    assert e["uncorrected_last"] == pytest.approx(unc[-1], rel=2e-4)


def reference_decay_runs(config):
    """The decay study with optax: adamw for decoupled decay, adam on loss + (lam/2)||w||^2 otherwise.

    Returns:
      {decoupled: jitted lam -> (final optimiser state, {"train_loss", "test_loss", "weight_norm"})}.
    """
    x_tr, y_tr, x_te, y_te = decay.decay_data(config)
    params = decay.decay_params(config)
    mask = [{"w": True, "b": False} for _ in params]
    hyper = dict(b1=config["b1"], b2=config["b2"], eps=config["eps"])

    def run(lam, decoupled):
        tx = (optax.adamw(config["decay_lr"], weight_decay=lam, mask=mask, **hyper) if decoupled
              else optax.adam(config["decay_lr"], **hyper))

        def loss(p):
            return decay.mse_data(p, x_tr, y_tr) + (0.0 if decoupled else 0.5 * lam * decay.weights_sq(p))

        def step(carry, _):
            p, s = carry
            u, s = tx.update(jax.grad(loss)(p), s, p)
            return (optax.apply_updates(p, u), s), None

        (p, s), _ = jax.lax.scan(step, (params, tx.init(params)), None, length=config["decay_steps"])
        return s, {"train_loss": decay.mse_data(p, x_tr, y_tr), "test_loss": decay.mse_data(p, x_te, y_te),
                   "weight_norm": jnp.sqrt(decay.weights_sq(p))}

    return {dec: jax.jit(lambda lam, dec=dec: run(lam, dec)) for dec in (False, True)}


def test_adamw_vs_l2_against_optax_runs(smoke):
    m, _, config, _, _ = smoke
    d = m["adamw_vs_l2"]
    runs = reference_decay_runs(config)
    # every config of the grid: vmapped (batched) nndl training vs unbatched optax, float32 rounding over
    # 150 steps; train losses near 1e-6 (interpolation) get an absolute slack
    _, ref = runs[False](0.0)
    for key in ("train_loss", "test_loss", "weight_norm"):
        assert d["no_decay"][key] == pytest.approx(float(ref[key]), rel=1e-3, abs=1e-6)
    for i, lam in enumerate(d["lambdas"]):
        for method, decoupled in (("l2", False), ("adamw", True)):
            state, ref = runs[decoupled](lam)
            for key in ("train_loss", "test_loss", "weight_norm"):
                assert d[method][key][i] == pytest.approx(float(ref[key]), rel=1e-3, abs=1e-6), (method, lam, key)
            if lam == config["probe_lambda"] and not decoupled:
                # L2: the measured decay is the penalty rescaled by 1/(sqrt(v^) + eps), v^ from optax's state
                v_hat = state[0].nu[0]["w"] / (1 - config["b2"] ** int(state[0].count))
                predicted = np.median(1 / (np.sqrt(np.asarray(v_hat, np.float64)) + config["eps"]), axis=1)
                # the one-step measurement also moves v by (1 - b2) of the penalty's share: ~1e-3 relative
                np.testing.assert_allclose(d["decay_multiplier"]["l2"], predicted, rtol=2e-2)
                assert d["l2_multiplier_spread"] == pytest.approx(max(predicted) / min(predicted), rel=4e-2)
    # AdamW: exactly lr * lam * theta for every weight (float32 division: 1e-4)
    np.testing.assert_allclose(d["decay_multiplier"]["adamw"], 1.0, rtol=1e-4)
    assert d["adamw_multiplier_spread"] == pytest.approx(1.0, abs=2e-4)
    assert d["best"]["l2"]["test_loss"] == min(d["l2"]["test_loss"])
    assert d["best"]["adamw"]["lambda"] == d["lambdas"][int(np.argmin(d["adamw"]["test_loss"]))]


def test_sgd_vs_adam_against_numpy(smoke):
    m, c, config, _, _ = smoke
    table = m["sgd_vs_adam"]
    splits = linear.task_splits(config)
    for task in TASKS:
        x_tr, y_tr, x_te, y_te = splits[task]
        block = table[task]
        if task == "classification":
            def loss(x, y, w, b):
                return float(np.mean(np.log1p(np.exp(-y * (x @ w + b)))))
            w_opt, b_opt = np.array(block["optimum"]["w"]), block["optimum"]["b"]
            a = np.c_[x_tr, np.ones(len(y_tr))]  # optimum: the logistic gradient vanishes
            grad = -(a * (y_tr / (1 + np.exp(y_tr * (a @ np.r_[w_opt, b_opt]))))[:, None]).mean(0)
            assert np.max(np.abs(grad)) < 1e-10
        else:
            def loss(x, y, w, b):
                return float(np.mean((x @ w + b - y) ** 2))
            coef = np.polyfit(x_tr[:, 0], y_tr, 1) if x_tr.shape[1] == 1 else None
            if coef is not None:
                assert block["optimum"]["w"][0] == pytest.approx(coef[0])
                assert block["optimum"]["b"] == pytest.approx(coef[1])
            else:
                theta = np.linalg.solve(np.c_[x_tr, np.ones(len(y_tr))].T @ np.c_[x_tr, np.ones(len(y_tr))],
                                        np.c_[x_tr, np.ones(len(y_tr))].T @ y_tr)
                np.testing.assert_allclose(block["optimum"]["w"] + [block["optimum"]["b"]], theta, rtol=1e-8)
        best = loss(x_tr, y_tr, np.array(block["optimum"]["w"]), block["optimum"]["b"])
        assert block["optimum"]["train_loss"] == pytest.approx(best, rel=1e-10)
        assert block["optimum"]["test_loss"] == pytest.approx(
            loss(x_te, y_te, np.array(block["optimum"]["w"]), block["optimum"]["b"]), rel=1e-10)
        for opt in OPTIMISERS:
            r = block[opt]
            w, b = np.array(r["w"]), r["b"]
            # losses recomputed in float64 from the trained float32 parameters
            assert r["train_loss"] == pytest.approx(loss(x_tr, y_tr, w, b), rel=1e-4)
            assert r["test_loss"] == pytest.approx(loss(x_te, y_te, w, b), rel=1e-4)
            assert r["train_loss"] >= best * (1 - 1e-5)
            curve = c[f"{task}_{opt}_train"]
            hit = np.flatnonzero(curve <= best * (1 + table["tolerance"]))
            assert r["epochs_to_tolerance"] == (int(hit[0]) + 1 if hit.size else None)
            within = curve <= best * (1 + table["tolerance"])  # stays within: every later epoch inside too
            stay = next((k + 1 for k in range(len(curve)) if within[k:].all()), None)
            assert r["epochs_to_stay"] == stay and (stay is None or stay >= r["epochs_to_tolerance"])
            assert r["final_gap"] == pytest.approx(curve[-1] / best - 1, rel=1e-6, abs=1e-9)
            if task == "classification":
                assert r["test_accuracy"] == pytest.approx(np.mean(np.sign(x_te @ w + b) == y_te), abs=1e-6)
                assert r["train_accuracy"] == pytest.approx(np.mean(np.sign(x_tr @ w + b) == y_tr), abs=1e-6)


def reference_linear_run(task: str, opt: str, config: dict, seed: int) -> dict:
    """One SGD-vs-Adam run (traceable) with optax and the library's minibatch rule written out: epoch e takes the
    examples in the order `epoch_permutation(seed, e, n)`, in batches perm[s*B:(s+1)*B] (the last one partial), each
    step on the batch's plain mean loss; losses and accuracies on the whole sets after every epoch."""
    x_tr, y_tr, x_te, y_te = (jnp.asarray(a, jnp.float32) for a in linear.task_splits(config)[task])
    n, batch = x_tr.shape[0], config["batch_size"]
    n_full = n // batch
    tx = (optax.adam if opt == "adam" else optax.sgd)(config[f"{opt}_lr"])

    def mean_loss(p, x, y):
        z = x @ p["w"] + p["b"]
        return jnp.mean(jax.nn.softplus(-y * z) if task == "classification" else jnp.square(z - y))

    def step(carry, idx):
        p, s = carry
        u, s = tx.update(jax.grad(mean_loss)(p, x_tr[idx], y_tr[idx]), s, p)
        return (optax.apply_updates(p, u), s), None

    def epoch(carry, perm):
        carry, _ = jax.lax.scan(step, carry, perm[:n_full * batch].reshape(n_full, batch))  # the full batches
        if n % batch:
            carry, _ = step(carry, perm[n_full * batch:])  # the last, partial batch
        p = carry[0]
        acc = [jnp.mean(jnp.sign(x @ p["w"] + p["b"]) == y) for x, y in ((x_tr, y_tr), (x_te, y_te))]
        return carry, (mean_loss(p, x_tr, y_tr), mean_loss(p, x_te, y_te), *acc)

    params = {"w": jnp.zeros(x_tr.shape[1]), "b": jnp.zeros(())}
    perms = jax.vmap(lambda e: epoch_permutation(seed, e, n))(jnp.arange(config["epochs"]))
    (params, _), (train, test, train_acc, test_acc) = jax.lax.scan(epoch, (params, tx.init(params)), perms)
    return {"params": params, "train": train, "test": test, "train_acc": train_acc, "test_acc": test_acc}


def reference_linear_runs(config: dict) -> dict:
    """{(task, optimiser): reference_linear_run(...)}, all six in one jitted call (one compile)."""
    seeds = linear.shuffle_seeds(config["seed"])
    runs = jax.jit(lambda: {(task, opt): reference_linear_run(task, opt, config, int(seeds[i]))
                            for i, task in enumerate(TASKS) for opt in OPTIMISERS})()
    return jax.tree.map(lambda a: np.asarray(a, np.float64), runs)


def test_sgd_vs_adam_against_an_optax_loop(smoke):
    m, c, config, _, _ = smoke
    assert int(0.8 * config["n_points"]) % config["batch_size"]  # the smoke's epochs end with a partial batch
    runs = reference_linear_runs(config)
    for task in TASKS:
        for opt in OPTIMISERS:
            ref, row = runs[(task, opt)], m["sgd_vs_adam"][task][opt]
            # the engine's batch loss is a weighted mean over padded slots (zero weights on the partial batch's
            # padding) of a where-selected loss, vmapped: float32 rounding differs from the plain mean; after
            # 175 steps it stays below 1e-5 of the losses and parameters
            np.testing.assert_allclose(c[f"{task}_{opt}_train"], ref["train"], rtol=1e-5)
            np.testing.assert_allclose(c[f"{task}_{opt}_test"], ref["test"], rtol=1e-5)
            np.testing.assert_allclose(row["w"], ref["params"]["w"], rtol=1e-5, atol=1e-6)
            assert row["b"] == pytest.approx(float(ref["params"]["b"]), rel=1e-5, abs=1e-6)
            if task == "classification":  # a share of 80 or 20 points: equal unless a point sits on the boundary
                assert row["train_accuracy"] == pytest.approx(ref["train_acc"][-1], abs=1e-6)
                assert row["test_accuracy"] == pytest.approx(ref["test_acc"][-1], abs=1e-6)


def test_a_diverged_run_reads_nan_and_is_named(smoke, tmp_path, capsys):
    m, _, config, _, _ = smoke
    # SGD at lr 1e30 overflows float32 in its first epoch on the regression tasks (the logistic gradient is bounded:
    # classification stays finite); the smoke's shapes and spec, so the compiled sweep is reused
    table, curves = adam_run.sgd_vs_adam({**config, "sgd_lr": 1e30}, tmp_path)
    assert [t for t in TASKS if table[t]["sgd"]["diverged"]] == ["one_var", "two_var"]
    assert not any(table[t]["adam"]["diverged"] for t in TASKS)
    no_decay = {"lambdas": [0.1], "diverged": {"no_decay": False, "l2": [False], "adamw": [False]}}
    assert adam_run.diverged_configs(no_decay, table) == ["SGD one_var", "SGD two_var"]  # run() warns with these
    assert "SGD diverged" in rep._task_verdict("one_var", table) and "not ranked" in rep._task_verdict("one_var", table)
    for task in TASKS:
        sgd = table[task]["sgd"]
        if task == "classification":
            assert np.isfinite(sgd["train_loss"]) and np.isfinite(curves[f"{task}_sgd_train"]).all()
        else:
            assert np.isnan(sgd["train_loss"]) and np.isnan(sgd["w"]).all() and np.isnan(sgd["b"])
            assert sgd["epochs_to_tolerance"] is None and sgd["epochs_to_stay"] is None
            assert np.isnan(curves[f"{task}_sgd_train"]).all() and np.isnan(curves[f"{task}_sgd_test"]).all()
        # the Adam configs of the same program are untouched by their diverging neighbours
        assert table[task]["adam"]["train_loss"] == pytest.approx(m["sgd_vs_adam"][task]["adam"]["train_loss"],
                                                                  rel=1e-6)
    # the sweep's checkpoint is kept until run() ends (a later sweep's interruption must not redo this one)
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint_SGD_vs_Adam.npz"]


def test_every_sweep_diverged_writes_null_metrics_and_exits_0(smoke, tmp_path, capsys):
    # every decay run and both regression tasks diverge at lr 1e30 (the bounded logistic gradient keeps
    # classification finite); the smoke's shapes, so its compiled sweeps are reused
    argv = [*SMALL, "--decay-lr", "1e30", "--sgd-lr", "1e30", "--adam-lr", "1e30", "--out", str(tmp_path)]
    assert adam.main(argv) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "adam: warning: " in err and "no decay, L2 lambda 0.01" in err
    m = runio.read_json(tmp_path / "metrics.json")
    d = m["adamw_vs_l2"]
    assert d["diverged"] == {"no_decay": True, "l2": [True, True], "adamw": [True, True]}
    assert d["l2"]["test_loss"] == [None, None] and d["best"]["l2"] == {"lambda": None, "test_loss": None}
    for task in ("one_var", "two_var"):
        assert m["sgd_vs_adam"][task]["sgd"]["diverged"] and m["sgd_vs_adam"][task]["sgd"]["train_loss"] is None
    answers = rep.report(m)
    assert "Diverged at learning rate 1e+30" in answers[3].text and "SGD and Adam diverged" in answers[4].text
    assert not rep.checks(m)[2].passed  # the decay multiplier of a diverged run is not measured
    for name in ("first_step.png", "adamw_vs_l2.png", "sgd_vs_adam.png"):
        assert (tmp_path / name).stat().st_size > 0
