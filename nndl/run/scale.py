"""Run options every experiment has: several processes and hosts (`jax.distributed`), configs per jitted call
(device memory), and the persistent compilation cache.

`add_flags(parser)` adds the flags; `setup(args)` acts on them before any JAX computation.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

import jax

from nndl import sweep
from nndl.errors import ConfigError
from nndl.sweep import programs as sweep_programs

CACHE_ENV = "NNDL_COMPILATION_CACHE"  # "0" turns the persistent compilation cache off


def add_flags(parser: argparse.ArgumentParser, positive_int, nonneg_int) -> None:
    group = parser.add_argument_group("several processes, device memory")
    group.add_argument("--distributed", action="store_true",
                       help="call jax.distributed.initialize() with JAX's cluster auto-detection (SLURM, Open MPI, "
                            "TPU pods, Kubernetes); start the same command in every process")
    group.add_argument("--coordinator", metavar="HOST:PORT", default=None,
                       help="manual start: the address of process 0 (with --num-processes and --process-id)")
    group.add_argument("--num-processes", type=positive_int, default=None, help="manual start: number of processes")
    group.add_argument("--process-id", type=nonneg_int, default=None, help="manual start: this process's index")
    group.add_argument("--max-configs-per-call", type=positive_int, default=None, metavar="K",
                       help="run at most K configs of a sweep per jitted call (slices share one compiled program; "
                            "default: from the free device memory on GPU/TPU, no cap on CPU)")


def check(args: argparse.Namespace) -> None:
    """Refuses inconsistent process flags (ConfigError: exit 2, one line)."""
    manual = [args.coordinator is not None, args.num_processes is not None, args.process_id is not None]
    if any(manual) and not all(manual):
        raise ConfigError("--coordinator, --num-processes and --process-id go together (a manual start)")
    if all(manual):
        if args.distributed:
            raise ConfigError("--distributed (auto-detection) and --coordinator (manual start) exclude each other")
        if not re.fullmatch(r"[\w.\-\[\]:]+:\d{1,5}", args.coordinator):
            raise ConfigError(f"--coordinator {args.coordinator!r} is not HOST:PORT")
        if args.process_id >= args.num_processes:
            raise ConfigError(f"--process-id {args.process_id} must be below --num-processes {args.num_processes}")


def cache_dir() -> Path | None:
    """Where compiled programs are kept across runs: $JAX_COMPILATION_CACHE_DIR, else the user's cache folder
    ($XDG_CACHE_HOME or ~/.cache)/nndl/jax; None when NNDL_COMPILATION_CACHE=0."""
    if os.environ.get(CACHE_ENV, "1") == "0":
        return None
    explicit = os.environ.get("JAX_COMPILATION_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "nndl" / "jax"


def enable_compilation_cache() -> Path | None:
    """Turns on JAX's persistent compilation cache (every program that took >= 0.2 s to compile is kept) and,
    in a folder inside it, the engine's store of compiled programs (`nndl.sweep.programs`: a rerun of a sweep
    also skips tracing and lowering)."""
    path = cache_dir()
    if path is None:
        return None
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # an unwritable cache folder only costs compile time
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    sweep_programs.configure(path / "nndl-programs")  # the engine's executables: a rerun skips tracing too
    return path


def setup(args: argparse.Namespace) -> None:
    """Before any JAX computation: the compilation cache, the process group, the configs-per-call cap."""
    check(args)
    enable_compilation_cache()
    if args.coordinator is not None or args.distributed:
        # CPU processes exchange data through gloo (GPUs and TPUs use their own collectives)
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        if args.coordinator is not None:
            jax.distributed.initialize(coordinator_address=args.coordinator, num_processes=args.num_processes,
                                       process_id=args.process_id)
        else:
            jax.distributed.initialize()
    sweep.configure(max_configs_per_call=args.max_configs_per_call)


def is_main() -> bool:
    """Whether this process writes the run folder (process 0, or the only process)."""
    return jax.process_index() == 0
