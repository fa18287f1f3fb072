"""The feature-major batched forward of the padded MLP (nndl.models.padded_mlp.apply_features) and the layouts of
nndl.train.mlp: the same net as the per-example reference `padded_mlp.apply`, to float32 rounding."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nndl import activations, train
from nndl.models import padded_mlp


def _init(key, width, max_width, depth=2, d_in=3, d_out=2, dtype=jnp.float32):
    return jax.jit(padded_mlp.init, static_argnames=("d_in", "d_out", "depth", "max_width", "dtype"))(
        key, width, d_in=d_in, d_out=d_out, depth=depth, max_width=max_width, dtype=dtype)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("width,max_width,depth", [(5, 5, 2), (4, 9, 2), (7, 16, 3), (3, 8, 0)])
def test_apply_features_equals_vmapped_apply(key, activation, width, max_width, depth):
    params = _init(key, width, max_width, depth)
    # poison a masked bias: the mask must keep it out of the output in both forms
    if depth:
        params[0]["b"] = params[0]["b"].at[max_width - 1:].set(7.0 if width < max_width else 0.0)
    x = jax.random.normal(jax.random.fold_in(key, 1), (11, 3))
    act = activations.get(activation)
    ref = jax.vmap(lambda xi: padded_mlp.apply(params, xi, width, act))(x)
    got = padded_mlp.apply_features(params, x.T, width, act).T
    # float32: the same products summed by another dot routine; rtol 1e-5 is ~100 ulp, a wrong mask or a
    # missing bias would be off by O(1)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


def test_feature_layout_loss_and_gradients_equal_example_layout(key):
    params = _init(key, 4, 9)
    x = jax.random.normal(jax.random.fold_in(key, 1), (13, 3))
    y = jax.random.normal(jax.random.fold_in(key, 2), (13, 2))
    w = (jnp.arange(13) < 10).astype(jnp.float32)  # padded batch slots carry weight 0
    out = {}
    for layout in ("examples", "features"):
        spec = train.make_spec(d_in=3, d_out=2, depth=2, max_width=9, n_train=13, batch_sizes=[10], layout=layout)
        out[layout] = jax.value_and_grad(lambda p, spec=spec: train.weighted_loss(spec, p, x, y, w, 4))(params)
    np.testing.assert_allclose(out["features"][0], out["examples"][0], rtol=1e-6)
    for g, r in zip(jax.tree.leaves(out["features"][1]), jax.tree.leaves(out["examples"][1])):
        np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-6)
    # masked units get exactly zero gradient in the feature layout too
    grads = out["features"][1]
    assert float(jnp.abs(grads[0]["b"][4:]).sum()) == 0.0
    assert float(jnp.abs(grads[1]["w"][4:, :]).sum() + jnp.abs(grads[1]["w"][:, 4:]).sum()) == 0.0


def test_sweep_layouts_agree(x64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 3))
    data = {"x_train": x[:20], "y_train": np.tanh(x[:20, :2]), "x_test": x[20:], "y_test": np.tanh(x[20:, :2])}
    grid = {"width": [2, 5, 9], "lr": [0.01] * 3, "epochs": [6, 9, 9], "seed": [0, 1, 2], "batch_size": [20, 7, 20]}
    res = {layout: train.run_mlp_sweep(grid, data, depth=2, n_buckets=2, chunk_epochs=3, dtype="float64",
                                       layout=layout) for layout in ("examples", "features")}
    # float64: the two layouts differ only in the order of rounding (~1e-16 per op)
    for name in ("train_loss", "test_loss"):
        np.testing.assert_allclose(res["features"].final[name], res["examples"].final[name], rtol=1e-10)
        np.testing.assert_allclose(res["features"].curves[name], res["examples"].curves[name], rtol=1e-10)
    for i in range(3):
        for a, b in zip(jax.tree.leaves(res["features"].params(i)), jax.tree.leaves(res["examples"].params(i))):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_auto_layout_is_feature_major_only_for_wide_buckets():
    from nndl.train.mlp_sweep import FEATURE_MAJOR_MIN_WIDTH, bucket_layout

    assert bucket_layout(FEATURE_MAJOR_MIN_WIDTH) == "features" and bucket_layout(200) == "features"
    assert bucket_layout(FEATURE_MAJOR_MIN_WIDTH - 1) == "examples" and bucket_layout(2) == "examples"
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 3))
    data = {"x_train": x[:8], "y_train": x[:8, :2], "x_test": x[8:], "y_test": x[8:, :2]}
    res = train.run_mlp_sweep({"width": [2, FEATURE_MAJOR_MIN_WIDTH], "lr": [0.01] * 2, "epochs": [2, 2]}, data,
                              depth=1, buckets=[[2], [FEATURE_MAJOR_MIN_WIDTH]], chunk_epochs=2)
    assert [s.layout for s in res.specs] == ["examples", "features"]
