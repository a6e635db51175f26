"""Columnar batches of readings: the unit of work on the hot path.

A :class:`Batch` is five aligned NumPy columns: point id (``int32``, into a
:class:`~processtwin.core.points.PointTable`), source timestamp (``float64`` seconds since the
Unix epoch, UTC), value (``float64``), quality (``uint8``) and reason bits (``uint32``).
Readings never travel as one Python object each.

:class:`BatchBuilder` is how connectors make batches: it coerces raw values to numbers and
turns anything it cannot use into a :class:`DeadLetter` with a reason, so nothing is lost
silently.

Example:
    >>> from processtwin.core.batch import BatchBuilder
    >>> b = BatchBuilder(source="demo")
    >>> b.add(0, 1.0, 3.5)
    >>> b.add(1, 1.0, "oops")
    >>> batch, dead = b.build()
    >>> len(batch), dead[0].reason
    (1, 'type: not a number: str')
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from processtwin.core.quality import Quality, Reason

__all__ = ["Batch", "BatchBuilder", "DeadLetter"]

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An input that could not be used, with the reason. Persisted and counted."""

    source: str
    key: str
    value: str
    reason: str
    ts: float = field(default_factory=time.time)
    category: str = "invalid"

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "key": self.key,
            "value": self.value,
            "reason": self.reason,
            "ts": self.ts,
            "category": self.category,
        }


@dataclass(frozen=True, slots=True)
class Batch:
    """Aligned columns of readings. All arrays have the same length."""

    point: npt.NDArray[np.int32]
    ts: F64
    value: F64
    quality: npt.NDArray[np.uint8]
    reason: npt.NDArray[np.uint32]

    def __post_init__(self) -> None:
        n = len(self.point)
        if not (len(self.ts) == len(self.value) == len(self.quality) == len(self.reason) == n):
            raise ValueError("batch columns differ in length")

    def __len__(self) -> int:
        return len(self.point)

    @classmethod
    def empty(cls) -> Batch:
        return cls(
            np.empty(0, np.int32),
            np.empty(0, np.float64),
            np.empty(0, np.float64),
            np.empty(0, np.uint8),
            np.empty(0, np.uint32),
        )

    @classmethod
    def of(
        cls,
        point: Sequence[int] | npt.ArrayLike,
        ts: Sequence[float] | npt.ArrayLike,
        value: Sequence[float] | npt.ArrayLike,
        quality: Sequence[int] | npt.ArrayLike | None = None,
        reason: Sequence[int] | npt.ArrayLike | None = None,
    ) -> Batch:
        p = np.asarray(point, dtype=np.int32)
        n = len(p)
        return cls(
            p,
            np.asarray(ts, dtype=np.float64),
            np.asarray(value, dtype=np.float64),
            np.zeros(n, np.uint8) if quality is None else np.asarray(quality, dtype=np.uint8),
            np.zeros(n, np.uint32) if reason is None else np.asarray(reason, dtype=np.uint32),
        )

    @staticmethod
    def concat(batches: Sequence[Batch]) -> Batch:
        if not batches:
            return Batch.empty()
        if len(batches) == 1:
            return batches[0]
        return Batch(
            np.concatenate([b.point for b in batches]),
            np.concatenate([b.ts for b in batches]),
            np.concatenate([b.value for b in batches]),
            np.concatenate([b.quality for b in batches]),
            np.concatenate([b.reason for b in batches]),
        )

    def take(self, idx: npt.NDArray[Any]) -> Batch:
        """A new batch with the rows selected by an index or boolean mask."""
        return Batch(
            self.point[idx], self.ts[idx], self.value[idx], self.quality[idx], self.reason[idx]
        )

    def sorted(self) -> Batch:
        """Rows ordered by (point, source timestamp); stable."""
        order = np.lexsort((self.ts, self.point))
        return self.take(order)


class BatchBuilder:
    """Accumulates readings from a connector into a :class:`Batch` plus dead letters."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._p: list[int] = []
        self._t: list[float] = []
        self._v: list[float] = []
        self._q: list[int] = []
        self._r: list[int] = []
        self._dead: list[DeadLetter] = []

    def __len__(self) -> int:
        return len(self._p)

    def add(
        self,
        point: int,
        ts: float,
        value: Any,
        quality: int = Quality.GOOD,
        reason: int = Reason.NONE,
        *,
        key: str | None = None,
    ) -> None:
        """Add one reading; a value that is not a real number becomes a dead letter."""
        if isinstance(value, bool | int | float | np.integer | np.floating):
            number = float(value)
        elif value is None and quality != Quality.GOOD:
            number = math.nan  # a bad status without a value: keep the quality, no number
        else:
            self._dead.append(
                DeadLetter(
                    self.source,
                    key if key is not None else str(point),
                    repr(value)[:200],
                    f"type: not a number: {type(value).__name__}",
                )
            )
            return
        if not math.isfinite(ts):
            self._dead.append(
                DeadLetter(self.source, key or str(point), repr(value)[:200],
                           "timestamp: not finite")
            )
            return
        self._p.append(point)
        self._t.append(ts)
        self._v.append(number)
        self._q.append(int(quality))
        self._r.append(int(reason))

    def reject(self, key: str, value: Any, reason: str, category: str = "invalid") -> None:
        self._dead.append(
            DeadLetter(self.source, key, repr(value)[:200], reason, category=category))

    def build(self) -> tuple[Batch, list[DeadLetter]]:
        """Return the batch and dead letters gathered so far, and start afresh."""
        batch = Batch.of(self._p, self._t, self._v, self._q, self._r)
        dead = self._dead
        self._p, self._t, self._v, self._q, self._r, self._dead = [], [], [], [], [], []
        return batch, dead
