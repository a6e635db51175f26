"""The time-series store seam: :class:`TimeSeriesStore`, the :class:`Series` it returns, and
the conventions every backend shares.

Every backend (in-memory double, embedded DuckDB, PostgreSQL, and the :mod:`buffered
<processtwin.store.buffered>` wrapper) implements the same Protocol and passes one conformance
suite (``tests/store/test_conformance.py``). Calls are synchronous; the runtime makes them from
worker threads so the event loop never blocks on disk or network.

Conventions (the same in every backend):

* **Time** is float seconds since the Unix epoch (UTC), stored with microsecond resolution:
  timestamps and query bounds are rounded to the nearest microsecond.
* **Duplicates**: a point has at most one row per timestamp. Writing ``(point, ts)`` again
  replaces the stored row: *last write wins* (a re-sent or corrected value supersedes the
  old one; within one batch the later row wins). Appends may come in any order (backfill).
* **Latest** is the row with the newest *source* timestamp, so backfilling older data never
  changes it. When a point's raw rows have all expired, it is the last row the roll-up saw.
* **Quality filter**: aggregates and interpolation use the rows whose quality is at most
  ``max_quality`` *and* whose value is finite. The default, :data:`DEFAULT_MAX_QUALITY`
  (``Quality.UNCERTAIN``), uses good and uncertain values and ignores bad ones; pass
  ``Quality.GOOD`` for good values only or ``Quality.BAD`` to include bad (finite) values.
  Raw queries (``every=None``) return every row with its quality, unfiltered.
* **Buckets** are ``floor(ts / every) * every`` (aligned to the epoch), limited to
  ``[start, end)``. A bucket is returned when it holds at least one row of any quality.
  Its quality is the worst quality among the rows it used (``BAD`` when it used none), its
  reason the OR of their reason bits. A value with nothing to aggregate is NaN, a count 0.
* **Aggregates** (:data:`AGGREGATES`): ``avg min max first last count`` over the used rows;
  ``count_all`` counts every row of the bucket, ``count_bad`` the rows of quality ``BAD``;
  ``twa`` is the **time-weighted average with step (previous-value hold) interpolation**:
  each row holds its value from its timestamp until the next row of the point (of any
  quality, inside or outside the bucket); an interval held by a row the filter leaves out
  (bad, NaN) counts neither in the numerator nor in the duration; the newest row of a point
  holds for no time, because how long it lasts is unknown until the next row arrives. The
  hold before a bucket's first row comes from the point's previous row, even when that row
  lies before ``start``. The twa is ``∫ value dt / covered seconds`` over the bucket ∩
  ``[start, end)``; NaN when no time is covered or the bucket used none of its own rows.
* **Interpolation** (:data:`INTERPOLATIONS`) to the grid ``start + k * every < end``:
  ``previous`` holds the last row at or before each grid time (also after the newest row);
  ``linear`` joins the rows on either side (NaN before the first and after the last row).
  A grid value is NaN with quality ``BAD`` when a row it needs is left out by the filter
  (interpolation never bridges bad data). A value that does not fall on a row carries
  ``Reason.IMPUTED`` besides its neighbours' reason bits; its quality is the worse of theirs.
* **Roll-up and retention**: every backend keeps 1-minute summaries (count, sum, min, max,
  first, last, quality, reason and the time-weighting terms) for the default filter. A query
  whose ``every`` is a multiple of 60 s, whose ``start``/``end`` are whole minutes (or open)
  and whose filter is the default may be served from them (``source="auto"``), and gives
  the same result as the raw rows. :class:`Retention` keeps raw rows ``raw_days`` and
  summaries ``rollup_days``; :meth:`TimeSeriesStore.retain` applies it. Raw-only queries
  (finer buckets, unaligned bounds, another filter, interpolation) see raw rows only. Rows
  older than the raw horizon are refused on append and recorded as dead letters (category
  ``retention``), so nothing is dropped silently and the summaries stay exact.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from processtwin.core.batch import Batch, DeadLetter
from processtwin.core.points import PointTable
from processtwin.core.quality import Quality
from processtwin.errors import InvalidInputError

__all__ = [
    "AGGREGATES",
    "DEFAULT_MAX_QUALITY",
    "INTERPOLATIONS",
    "ROLLUP_SECONDS",
    "CommitPolicy",
    "QuerySpec",
    "Retention",
    "RetentionReport",
    "Series",
    "Source",
    "TimeSeriesStore",
]

AGGREGATES = ("avg", "min", "max", "first", "last", "count", "count_all", "count_bad", "twa")
INTERPOLATIONS = ("linear", "previous")
DEFAULT_MAX_QUALITY = int(Quality.UNCERTAIN)
ROLLUP_SECONDS = 60
MAX_GRID = 10_000_000
Source = Literal["auto", "raw", "rollup"]


@dataclass(frozen=True, slots=True)
class Series:
    """Aligned columns of one point's history."""

    ts: npt.NDArray[np.float64]
    value: npt.NDArray[np.float64]
    quality: npt.NDArray[np.uint8]
    reason: npt.NDArray[np.uint32]

    def __len__(self) -> int:
        return len(self.ts)

    @classmethod
    def empty(cls) -> Series:
        return cls(np.empty(0), np.empty(0), np.empty(0, np.uint8), np.empty(0, np.uint32))


@dataclass(frozen=True, slots=True, kw_only=True)
class Retention:
    """How long history is kept. ``None`` keeps it forever.

    ``raw_days`` applies to raw rows, ``rollup_days`` to the 1-minute summaries, which must
    live at least as long as the raw rows they summarise.
    """

    raw_days: float | None = None
    rollup_days: float | None = None

    def __post_init__(self) -> None:
        problems = [f"{name} must be > 0 days" for name, v in
                    (("raw_days", self.raw_days), ("rollup_days", self.rollup_days))
                    if v is not None and not (math.isfinite(v) and v > 0)]
        if (self.raw_days is not None and self.rollup_days is not None
                and self.rollup_days < self.raw_days):
            problems.append("rollup_days must be >= raw_days")
        if self.rollup_days is not None and self.raw_days is None:
            problems.append("rollup_days needs raw_days (raw rows may not outlive summaries)")
        if problems:
            raise InvalidInputError("; ".join(problems))


@dataclass(frozen=True, slots=True, kw_only=True)
class CommitPolicy:
    """When appended rows are committed.

    ``interval_s == 0`` commits every append before it returns. Otherwise rows wait in memory
    and are committed by the first call after ``interval_s`` has passed since the last commit,
    when ``max_rows`` are waiting, or by :meth:`TimeSeriesStore.flush`, a read, or ``close``.
    A crash loses at most the rows not yet committed; a committed row is never lost.
    When a commit fails (``StoreError``) the rows it carried are not kept by the store: the
    caller retries its batch (the runtime does), or wraps the store in
    :class:`~processtwin.store.buffered.BufferedStore`, which keeps them in order. Rows that
    waited from earlier calls are lost with that commit, so keep ``interval_s == 0`` under a
    :class:`~processtwin.store.buffered.BufferedStore`.
    """

    interval_s: float = 0.0
    max_rows: int = 200_000

    def __post_init__(self) -> None:
        if not (math.isfinite(self.interval_s) and self.interval_s >= 0):
            raise InvalidInputError("interval_s must be >= 0 seconds")
        if self.max_rows < 1:
            raise InvalidInputError("max_rows must be >= 1")


@dataclass(frozen=True, slots=True)
class RetentionReport:
    """What :meth:`TimeSeriesStore.retain` removed; horizons are epoch seconds or None."""

    raw_rows: int
    rollup_rows: int
    raw_horizon: float | None
    rollup_horizon: float | None


def _us(t: float) -> int:
    return round(t * 1e6)


@dataclass(frozen=True, slots=True)
class QuerySpec:
    """A validated aggregate or raw query; bounds in microseconds (None: open)."""

    start_us: int | None
    end_us: int | None
    every: float | None
    agg: str
    max_quality: int
    rollup: bool

    @property
    def start(self) -> float:
        return -math.inf if self.start_us is None else self.start_us / 1e6

    @property
    def end(self) -> float:
        return math.inf if self.end_us is None else self.end_us / 1e6

    @classmethod
    def make(cls, start: float | None, end: float | None, every: float | None, agg: str,
             max_quality: int, source: str) -> QuerySpec:
        """Validate a query; raise :class:`InvalidInputError` listing every problem."""
        problems = []
        if agg not in AGGREGATES:
            problems.append(f"unknown aggregate {agg!r}; use one of {AGGREGATES}")
        if every is not None and not (math.isfinite(every) and every > 0):
            problems.append("every must be > 0 seconds")
        for name, v in (("start", start), ("end", end)):
            if v is not None and not math.isfinite(v):
                problems.append(f"{name} must be a finite time")
        if max_quality not in (0, 1, 2):
            problems.append("max_quality must be 0 (good), 1 (uncertain) or 2 (bad)")
        if source not in ("auto", "raw", "rollup"):
            problems.append("source must be auto, raw or rollup")
        if problems:
            raise InvalidInputError("; ".join(problems))
        s_us = None if start is None else _us(start)
        e_us = None if end is None else _us(end)
        if s_us is not None and e_us is not None and e_us < s_us:
            raise InvalidInputError("end must not be before start")
        minute = ROLLUP_SECONDS * 1_000_000
        eligible = (every is not None and every % ROLLUP_SECONDS == 0
                    and max_quality == DEFAULT_MAX_QUALITY
                    and all(b is None or b % minute == 0 for b in (s_us, e_us)))
        if source == "rollup" and not eligible:
            raise InvalidInputError(
                "the roll-up serves only every = k*60 s, whole-minute start/end and the "
                "default quality filter")
        return cls(s_us, e_us, None if every is None else float(every), agg,
                   int(max_quality), eligible and source != "raw")


def grid(start: float, end: float, every: float) -> npt.NDArray[np.float64]:
    """The interpolation grid ``start + k * every < end`` (validated)."""
    problems = []
    if not (math.isfinite(start) and math.isfinite(end)):
        problems.append("start and end must be finite times")
    if not (math.isfinite(every) and every > 0):
        problems.append("every must be > 0 seconds")
    if problems:
        raise InvalidInputError("; ".join(problems))
    n = max(0, math.ceil((end - start) / every))
    if n > MAX_GRID:
        raise InvalidInputError(f"the grid would have {n} points (at most {MAX_GRID})")
    g = start + np.arange(n, dtype=np.float64) * every
    return g[g < end]


@runtime_checkable
class TimeSeriesStore(Protocol):
    """History of every point, with quality. See the module docstring for the conventions."""

    def register(self, table: PointTable) -> None:
        """Declare the points; ids in later batches index this table."""

    def append(self, batch: Batch) -> int:
        """Accept a batch; return the number of rows committed durably by this call.

        With the default :class:`CommitPolicy` that is every row of the batch. Rows older
        than the raw retention horizon are refused and recorded as dead letters.
        """

    def flush(self) -> int:
        """Commit rows still waiting (see :class:`CommitPolicy`); return how many."""

    def append_dead(self, items: Sequence[DeadLetter]) -> None:
        """Persist dead letters."""

    def query(self, key: str, start: float | None = None, end: float | None = None,
              every: float | None = None, agg: str = "avg", *,
              max_quality: int = DEFAULT_MAX_QUALITY, source: Source = "auto") -> Series:
        """Raw rows of ``key`` in [start, end), or per-``every``-second buckets of ``agg``.

        ``source`` forces the raw rows or the roll-up (tests and benchmarks); ``auto`` uses
        the roll-up when it can serve the query.
        """

    def query_many(self, keys: Sequence[str] | None = None, start: float | None = None,
                   end: float | None = None, every: float | None = None, agg: str = "avg",
                   *, max_quality: int = DEFAULT_MAX_QUALITY,
                   source: Source = "auto") -> dict[str, Series]:
        """:meth:`query` for many points at once (all known points when ``keys`` is None);
        points without rows are left out."""

    def interpolate(self, key: str, start: float, end: float, every: float,
                    method: str = "linear", *,
                    max_quality: int = DEFAULT_MAX_QUALITY) -> Series:
        """Values of ``key`` on the grid ``start + k*every < end`` (``linear``/``previous``)."""

    def latest(self, key: str) -> Series:
        """The newest row of ``key`` by source timestamp (empty if none)."""

    def rollup(self) -> int:
        """Bring the 1-minute summaries up to date; return how many minutes were rewritten."""

    def retain(self, now: float | None = None) -> RetentionReport:
        """Apply the :class:`Retention` policy as of ``now`` (default: the clock)."""

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """The newest dead letters, newest first."""

    def count(self, key: str | None = None) -> int:
        """Raw rows stored, for one point or in all."""

    def close(self) -> None:
        """Flush and release the backend."""
