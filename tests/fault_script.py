"""An experiment run in a separate process with a fault injected at a checkpoint (signal and kill tests).

usage: python -m tests.fault_script FAULT EXPERIMENT [FLAGS...]

FAULT is one of
  sigterm[:NAME]   SIGTERM to itself right after the first checkpoint whose file name contains NAME is saved
  sigint[:NAME]    the same with SIGINT (Ctrl-C)
  kill-in-write    SIGKILL to itself half-way through writing the SECOND checkpoint (the first is complete): what
                   a kill -9 during a checkpoint write leaves behind (the temporary file of the atomic write)
The process exits with the experiment's exit status (or dies by the signal).
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")


def inject(fault: str) -> None:
    from nndl.sweep import checkpoint  # after the platform is set: importing nndl imports JAX

    kind, _, name = fault.partition(":")
    save, write = checkpoint.save, checkpoint.atomic_write_bytes
    seen = {"saves": 0, "writes": 0}

    def save_then_signal(path, *args, **kwargs):
        save(path, *args, **kwargs)
        if name in Path(path).name and not seen["saves"]:
            seen["saves"] += 1
            os.kill(os.getpid(), signal.SIGTERM if kind == "sigterm" else signal.SIGINT)

    def write_half_then_die(path, data):
        seen["writes"] += 1
        if seen["writes"] < 2:
            return write(path, data)
        path = Path(path)  # as nndl.atomic does: a temp file in the same folder, then os.replace (never reached)
        fd, _ = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.write(fd, data[: len(data) // 2])
        os.fsync(fd)
        os.kill(os.getpid(), signal.SIGKILL)

    if kind in ("sigterm", "sigint"):
        checkpoint.save = save_then_signal
    elif kind == "kill-in-write":
        checkpoint.atomic_write_bytes = write_half_then_die
    else:
        raise SystemExit(f"unknown fault {fault!r}")


if __name__ == "__main__":
    inject(sys.argv[1])
    from experiments import load

    raise SystemExit(load(sys.argv[2]).main(sys.argv[3:]))
