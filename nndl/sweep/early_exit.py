"""Ending a sweep early, exactly: once no config can change any more, the remaining chunks are skipped.

A config stops changing after its last update: the epoch before its horizon (`hp["epochs"]`), the epoch its loss
fell below `stop_loss`, or the epoch before it diverged. Every later epoch of the scan leaves its state and
bookkeeping as they are and only records `evaluate(state)` at the record epochs, the same value each time. So
when every config's last update lies behind the epochs already run AND a record epoch after it has been
recorded, the rest of the scan would only copy that recorded row into the remaining slots: `fill_curves` does
that on the host and the chunks are not run. Results are those of the full scan (the copied row is a value the
same compiled program computed from the same state).

In sliced mode (`Sweep.run(slice_configs=...)`) the same rule retires one slice of a bucket at a time: `retire`
fills the slice's remaining slots with its settled row and the engine stops calling it.
"""

from __future__ import annotations

import numpy as np

from nndl.sweep.program import Track


def last_update(track: Track, epochs: np.ndarray) -> np.ndarray:
    """Per config, the epoch index of its last state update (-1: never updated)."""
    last = np.asarray(epochs, np.int64) - 1
    stopped = np.asarray(track.stopped_epoch)
    last = np.where(stopped >= 0, np.minimum(last, stopped), last)
    diverged = np.asarray(track.diverged)
    return np.where(diverged, np.minimum(last, np.asarray(track.diverged_epoch) - 1), last)


def settled_slot(tracks, epochs, epochs_done: int, record: np.ndarray) -> int | None:
    """The last recorded slot if nothing would change after `epochs_done` epochs, else None.

    Args:
      tracks: per bucket, its configs' Track (host arrays).
      epochs: per bucket, its configs' horizons.
      epochs_done: epochs the scan has run.
      record: the record epoch counts (slot k is recorded after epoch index record[k] - 1).
    """
    slot_epoch = np.asarray(record) - 1
    done = np.flatnonzero(slot_epoch < epochs_done)
    if len(done) == len(slot_epoch):
        return None  # every slot recorded: nothing left to skip
    if len(done) == 0:
        return None
    last_slot = int(done[-1])
    for track, ep in zip(tracks, epochs):
        if np.any(last_update(track, ep) > slot_epoch[last_slot]):
            return None  # a config still trains, or its final state is not recorded yet
    return last_slot


def _fill_rows(curves: np.ndarray, rows: slice, last_slot: int) -> None:
    """In place: every slot after `last_slot` of configs `rows` holds their row recorded at `last_slot`."""
    curves[rows, last_slot + 1:] = curves[rows, last_slot:last_slot + 1]


def fill_curves(track: Track, last_slot: int) -> Track:
    """`track` with every slot after `last_slot` holding the row recorded at `last_slot`."""
    curves = np.array(track.curves)
    _fill_rows(curves, slice(None), last_slot)
    return track._replace(curves=curves)


def retire(track: Track, epochs: np.ndarray, rows: slice, epochs_done: int, record: np.ndarray) -> bool:
    """Whether the configs `rows` of a bucket have settled after `epochs_done` epochs; if so their remaining curve
    slots are filled in place (`track.curves`, a host array) with their last recorded row, as the scan would."""
    part = track._replace(**{k: np.asarray(v)[rows] for k, v in track._asdict().items()})
    slot = settled_slot([part], [np.asarray(epochs)[rows]], epochs_done, record)
    if slot is None:
        return False
    _fill_rows(track.curves, rows, slot)
    return True
