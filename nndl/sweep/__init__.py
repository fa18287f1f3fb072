"""The sweep engine: whole grids of training runs in one jitted, vmapped, sharded call (it knows no model;
`nndl.train` holds the MLP and ridge tasks)."""

from nndl.sweep.devices import use_host_devices
from nndl.sweep.engine import Sweep, Task, configure, record_epochs
from nndl.sweep.grid import Grid, derive_seeds, padded_cost, plan_buckets, product, scatter

__all__ = ["Grid", "Sweep", "Task", "configure", "derive_seeds", "padded_cost", "plan_buckets", "product",
           "record_epochs", "scatter", "use_host_devices"]
