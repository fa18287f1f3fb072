"""Devices for sweeps: a 1-D mesh over the config axis, and one host device per core on CPU."""

from __future__ import annotations

import os
from collections.abc import Sequence

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

CONFIG_AXIS = "configs"


def mesh(devices: Sequence[jax.Device]) -> Mesh:
    """1-D mesh named 'configs'. Auto axis types: gathers such as x[perm] need them."""
    return Mesh(list(devices), (CONFIG_AXIS,), axis_types=(jax.sharding.AxisType.Auto,))


def config_sharding(devices: Sequence[jax.Device]) -> NamedSharding:
    """Leading (config) axis split over the devices, the rest replicated."""
    return NamedSharding(mesh(devices), PartitionSpec(CONFIG_AXIS))


def replicated(devices: Sequence[jax.Device]) -> NamedSharding:
    return NamedSharding(mesh(devices), PartitionSpec())


def use_host_devices(count: int | None = None) -> None:
    """Asks XLA for `count` CPU devices (default: one per core), unless the user already chose.

    XLA's CPU backend runs a vmapped (batched) matmul on about one core, so on a
    CPU a sweep is fastest with one host device per core and the config axis
    sharded. Must run before jax initialises its backends; a no-op afterwards
    and when XLA_FLAGS already sets the count.
    """
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" in flags:
        return
    count = count or os.cpu_count() or 1
    os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={count}".strip()
