"""The open batch a connector decodes into: growing columns plus dead letters.

:class:`Columns` is a leaner :class:`~processtwin.core.batch.BatchBuilder` for decoders that
have already checked their values: one ``append`` per column and reading, no per-reading
object, and :meth:`Columns.build` turns the lists into the five NumPy columns of a
:class:`~processtwin.core.batch.Batch` at once. :class:`PointResolver` is what decoders need
of a point table (a :class:`~processtwin.core.points.PointTable` is one).

Example:
    >>> c = Columns("demo")
    >>> c.add(0, 1.0, 2.5)
    >>> c.reject("r1.T", b"{", "invalid: not JSON", "invalid")
    >>> batch, dead = c.build()
    >>> len(batch), dead[0].reason, len(c)
    (1, 'invalid: not JSON', 0)
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any, Protocol

import numpy as np

from processtwin.core.batch import Batch, DeadLetter
from processtwin.core.points import PointSpec

__all__ = ["Columns", "PointResolver", "excerpt"]


class PointResolver(Protocol):
    """Point lookup by ``twin.point`` key; :class:`~processtwin.core.points.PointTable` fits."""

    def get(self, key: str) -> int | None: ...

    def spec(self, idx: int) -> PointSpec: ...


def excerpt(value: Any, limit: int = 200) -> str:
    """A bounded, printable text of a rejected input (dead letters keep 200 characters)."""
    if isinstance(value, bytes | bytearray | memoryview):
        value = bytes(value[:limit])
    return repr(value)[:limit]


class Columns:
    """Growing columns of readings plus the dead letters gathered alongside them."""

    __slots__ = ("dead", "p", "q", "r", "source", "t", "v")

    def __init__(self, source: str) -> None:
        self.source = source
        self.p: list[int] = []
        self.t: list[float] = []
        self.v: list[float] = []
        self.q: list[int] = []
        self.r: list[int] = []
        self.dead: list[DeadLetter] = []

    def __len__(self) -> int:
        return len(self.p)

    def pending(self) -> int:
        """Readings plus dead letters not yet built."""
        return len(self.p) + len(self.dead)

    def add(self, point: int, ts: float, value: float, quality: int = 0,
            reason: int = 0) -> None:
        self.p.append(point)
        self.t.append(ts)
        self.v.append(value)
        self.q.append(quality)
        self.r.append(reason)

    def reject(self, key: str, value: Any, reason: str, category: str) -> None:
        self.dead.append(DeadLetter(self.source, key, excerpt(value), reason,
                                    ts=time.time(), category=category))

    def build(self) -> tuple[Batch, list[DeadLetter]]:
        """The batch and dead letters so far; the columns start afresh."""
        batch = Batch(np.array(self.p, dtype=np.int32), np.array(self.t, dtype=np.float64),
                      np.array(self.v, dtype=np.float64), np.array(self.q, dtype=np.uint8),
                      np.array(self.r, dtype=np.uint32))
        dead = self.dead
        self.p, self.t, self.v, self.q, self.r, self.dead = [], [], [], [], [], []
        return batch, dead

    @staticmethod
    def categories(dead: list[DeadLetter]) -> Counter[str]:
        return Counter(d.category for d in dead)
