"""The sweep engine: whole grids of training runs in one jitted, vmapped, sharded call."""

from nndl.sweep.devices import use_host_devices
from nndl.sweep.engine import Sweep, Task, record_epochs
from nndl.sweep.grid import derive_seeds, padded_cost, plan_buckets, product
from nndl.sweep.mlp_sweep import SweepResult, run_mlp_sweep

__all__ = ["Sweep", "SweepResult", "Task", "derive_seeds", "padded_cost", "plan_buckets", "product", "record_epochs",
           "run_mlp_sweep", "use_host_devices"]
