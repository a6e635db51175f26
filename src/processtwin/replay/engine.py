"""Pace a :class:`~processtwin.replay.recording.Recording` into a target at N× speed.

Readings that share a timestamp go out together, at wall time ``start + (ts - ts0) / speed``
(``speed`` 0: as fast as the target takes them; a target that ``coalesces`` then gets many
timestamps per send). Timestamps stay as recorded (a backfill) unless ``restamp``: then the
recording is moved to start now, its spacing divided by the speed.

Example:
    >>> import asyncio, numpy as np
    >>> rec = Recording(("a",), np.zeros(3, np.int32), np.array([1.0, 1.0, 2.0]),
    ...                 np.array([1.0, 2.0, 3.0]), np.zeros(3, np.uint8))
    >>> class Printer:
    ...     coalesce = False
    ...     async def open(self, rec): pass
    ...     async def send(self, rec, lo, hi, ts): print(lo, hi, ts.tolist())
    ...     async def close(self): pass
    >>> asyncio.run(replay(rec, Printer(), speed=0)).readings
    0 2 [1.0, 1.0]
    2 3 [2.0]
    3
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from processtwin.errors import InvalidInputError
from processtwin.replay.recording import Recording

__all__ = ["ReplayStats", "ReplayTarget", "replay"]


class ReplayTarget(Protocol):
    """Where replayed readings go (MQTT, Sparkplug B, an OPC UA server)."""

    #: may one send carry readings of several timestamps?
    coalesce: bool

    async def open(self, rec: Recording) -> None: ...

    async def send(self, rec: Recording, lo: int, hi: int, ts: npt.NDArray[np.float64]
                   ) -> None:
        """Deliver rows ``lo:hi`` of ``rec`` with timestamps ``ts`` (restamped or not)."""

    async def close(self) -> None: ...


@dataclass(slots=True)
class ReplayStats:
    readings: int = 0
    sends: int = 0
    late_s: float = 0.0  # the most a send started behind its schedule
    wall_s: float = 0.0


async def replay(rec: Recording, target: ReplayTarget, *, speed: float = 1.0,
                 restamp: bool = False, max_rows: int = 500,
                 progress: Callable[[int], None] | None = None) -> ReplayStats:
    """Replay ``rec`` into ``target``; ``progress`` gets the readings sent so far."""
    if speed < 0 or not np.isfinite(speed):
        raise InvalidInputError(f"speed {speed}: 0 (as fast as possible) or a positive factor")
    if max_rows < 1:
        raise InvalidInputError("max_rows must be >= 1")
    stats = ReplayStats()
    n = len(rec)
    await target.open(rec)
    try:
        if n == 0:
            return stats
        ts = rec.ts
        ts0 = float(ts[0])
        wall0, now0 = time.monotonic(), time.time()
        if restamp:
            ts = now0 + (ts - ts0) / (speed or 1.0)
        # group boundaries: where the timestamp changes
        starts = np.concatenate(([0], np.flatnonzero(np.diff(rec.ts)) + 1, [n])).tolist()
        g = 0
        groups = len(starts) - 1
        while g < groups:
            lo = starts[g]
            if speed > 0:
                due = wall0 + (float(rec.ts[lo]) - ts0) / speed
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                else:
                    stats.late_s = max(stats.late_s, -wait)
            g += 1
            hi = starts[g]
            if speed == 0 and target.coalesce:
                while g < groups and starts[g + 1] - lo <= max_rows:
                    g += 1
                hi = starts[g]
            for a in range(lo, hi, max_rows):
                b = min(hi, a + max_rows)
                await target.send(rec, a, b, ts[a:b])
                stats.sends += 1
                stats.readings += b - a
                if progress is not None:
                    progress(stats.readings)
    finally:
        await target.close()
        stats.wall_s = time.monotonic() - wall0 if n else 0.0
    return stats
