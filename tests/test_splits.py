"""nndl.data.split_indices: a seeded partition of the rows, no empty part."""

import jax
import numpy as np
import pytest

from nndl import data


def test_split_indices_is_a_seeded_partition(key):
    first, rest = data.split_indices(key, 1000, 0.66)
    assert (first.size, rest.size) == (660, 340)
    np.testing.assert_array_equal(np.sort(np.concatenate([first, rest])), np.arange(1000))
    again, _ = data.split_indices(key, 1000, 0.66)
    np.testing.assert_array_equal(first, again)
    other, _ = data.split_indices(jax.random.key(1), 1000, 0.66)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("n, fraction", [(10, 0.0), (10, 1.0), (3, 0.1), (3, 0.9)])
def test_split_indices_rejects_empty_parts(key, n, fraction):
    with pytest.raises(ValueError):
        data.split_indices(key, n, fraction)
