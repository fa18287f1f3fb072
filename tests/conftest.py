"""Strict, CPU-only test settings shared by every test."""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("NNDL_PROGRESS", "0")
# no persistent compilation cache in tests (tests/test_distributed.py turns it on in a folder of its own)
os.environ.setdefault("NNDL_COMPILATION_CACHE", "0")
# the report's formula layouts are not cached across test runs either
os.environ.setdefault("NNDL_FORMULA_CACHE", "0")

import jax
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def key():
    return jax.random.key(0)


@pytest.fixture
def x64():
    """Float64 for the duration of one test (tight tolerances only)."""
    with jax.enable_x64(True):
        yield
