"""experiments.backprop.opcount: the analytic FLOP counts equal the count of the implementation's jaxpr; big-O."""

import itertools
import math
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import pytest

from experiments.backprop import opcount, passes

_ZERO_COST = {"broadcast_in_dim", "transpose", "reshape", "squeeze", "convert_element_type", "copy"}
_ELEMENTWISE = {"add", "sub", "mul", "div", "max", "min", "gt", "lt", "ge", "square", "select_n", "neg"}


def _jaxpr_flops(jaxpr) -> int:
    """FLOPs of a jaxpr with XLA's conventions: dot 2*out*contract, elementwise 1/element, sum n-1."""
    total = 0
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        inner = [v for v in eqn.params.values() if hasattr(v, "eqns") or hasattr(v, "jaxpr")]
        size = math.prod(eqn.outvars[0].aval.shape)
        if inner:
            total += sum(_jaxpr_flops(getattr(j, "jaxpr", j)) for j in inner)
        elif name == "dot_general":
            (contract, _), _ = eqn.params["dimension_numbers"]
            lhs = eqn.invars[0].aval.shape
            total += 2 * size * math.prod(lhs[i] for i in contract)
        elif name == "reduce_sum":
            total += math.prod(eqn.invars[0].aval.shape) - size
        elif (name == "integer_pow" and eqn.params["y"] == 2) or name in _ELEMENTWISE:
            total += size
        elif name not in _ZERO_COST:
            raise AssertionError(f"no FLOP rule for primitive {name}")
    return total


@pytest.mark.parametrize("n_in, n_out, n_hidden, width, batch",
                         [(3, 2, 1, 4, 1), (8, 4, 2, 16, 8), (5, 1, 3, 7, 3), (16, 10, 4, 32, 2)])
def test_analytic_counts_equal_the_count_of_the_implementation(n_in, n_out, n_hidden, width, batch):
    # The hand-derived formulas must count exactly the ops experiments.backprop.passes performs.
    # A jaxpr depends on shapes and dtypes only, so abstract float32 arrays stand in for the values.
    def f32(*shape):
        return jax.ShapeDtypeStruct(shape, jnp.float32)

    sizes = opcount.layer_sizes(n_in, n_out, n_hidden, width)
    params = [{"w": f32(a, b), "b": f32(b)} for a, b in itertools.pairwise(sizes)]
    xs, ys = f32(batch, n_in), f32(batch, n_out)
    _, caches = jax.eval_shape(passes.batch_forward, params, xs, ys)
    fwd = jax.make_jaxpr(passes.batch_forward)(params, xs, ys).jaxpr
    bwd = jax.make_jaxpr(passes.batch_backward)(params, caches).jaxpr
    assert opcount.forward_flops(n_in, n_out, n_hidden, width, batch) == _jaxpr_flops(fwd)
    assert opcount.backward_flops(n_in, n_out, n_hidden, width, batch) == _jaxpr_flops(bwd)


def test_big_o_is_the_leading_term():
    n_in, n_out, n_hidden, width, batch = 30, 7, 3, 50, 4
    big = opcount.big_o(n_in, n_out, n_hidden, width, batch)
    # forward = 2 * multiply-adds + bias, ReLU and loss elementwise terms + batch mean
    elementwise = batch * ((n_hidden * width + n_out) + n_hidden * width + 3 * n_out) + batch
    assert opcount.forward_flops(n_in, n_out, n_hidden, width, batch) == 2 * big["forward"] + elementwise
    assert big["forward_text"] == "B[O(IL) + 2 O(L^2) + O(LO)]"
    assert big["backward_text"] == "B[O(IL) + 4 O(L^2) + 2 O(LO)]"
    # backward/forward -> 2 - IL / (IL + (K-1)L^2 + LO) as L grows
    wide = [opcount.backward_flops(8, 8, 4, w, 16) / opcount.forward_flops(8, 8, 4, w, 16) for w in (64, 1024)]
    limits = [2 - 8 * w / (8 * w + 3 * w * w + 8 * w) for w in (64, 1024)]
    assert abs(wide[1] - limits[1]) < abs(wide[0] - limits[0]) < 0.1


def test_xla_flops_accepts_a_list_of_one_dict(monkeypatch):
    # jax < 0.4.30 returned [dict] from cost_analysis(); newer returns the dict.
    compiled = SimpleNamespace(cost_analysis=lambda: [{"flops": 12.0}])
    lowered = SimpleNamespace(compile=lambda: compiled)
    monkeypatch.setattr(opcount.jax, "jit", lambda fn: SimpleNamespace(lower=lambda *a: lowered))
    assert opcount.xla_flops(lambda x: x, 1.0) == 12.0

