"""What the SQL backends share: point ids, the commit policy's waiting rows, and turning
query results into :class:`~processtwin.store.base.Series` per point."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from processtwin.core.batch import Batch, DeadLetter
from processtwin.core.points import PointTable
from processtwin.errors import InvalidInputError, UnknownPointError
from processtwin.store.base import CommitPolicy, Series

__all__ = ["Pending", "PointIds", "split_series"]


class PointIds:
    """Maps keys to the backend's persistent point ids, and table indexes to ids."""

    def __init__(self) -> None:
        self.key_id: dict[str, int] = {}
        self.id_key: dict[int, str] = {}
        self.ids = np.empty(0, np.int32)

    def load(self, known: dict[str, int], table: PointTable | None) -> None:
        self.key_id = dict(known)
        self.id_key = {v: k for k, v in known.items()}
        if table is not None:
            self.ids = np.array([known[s.key] for s in table.specs], np.int32)

    def id(self, key: str) -> int:
        try:
            return self.key_id[key]
        except KeyError:
            raise UnknownPointError(f"unknown point {key!r}") from None

    def resolve(self, keys: Sequence[str] | None) -> list[int]:
        if keys is None:
            return sorted(self.id_key)
        return [self.id(k) for k in keys]

    def map(self, batch: Batch) -> Batch:
        """The batch with table indexes replaced by point ids (validated)."""
        if len(batch) and (len(self.ids) == 0 or int(batch.point.max()) >= len(self.ids)
                           or int(batch.point.min()) < 0):
            raise InvalidInputError("batch point ids do not index the registered table")
        return Batch(self.ids[batch.point], batch.ts, batch.value, batch.quality,
                     batch.reason)

    def key(self, pid: int) -> str:
        return self.id_key.get(pid, str(pid))

    def keys_of(self, ids: npt.NDArray[Any]) -> list[str]:
        return [self.id_key.get(int(i), str(int(i))) for i in ids]


class Pending:
    """Rows accepted but not yet committed, under a :class:`CommitPolicy`."""

    def __init__(self, policy: CommitPolicy) -> None:
        self.policy = policy
        self.batches: list[Batch] = []
        self.rows = 0
        self.last_commit = time.monotonic()

    def add(self, batch: Batch) -> bool:
        """Queue a batch; True when a commit is due."""
        if len(batch):
            self.batches.append(batch)
            self.rows += len(batch)
        return bool(self.rows) and (
            self.policy.interval_s == 0 or self.rows >= self.policy.max_rows
            or time.monotonic() - self.last_commit >= self.policy.interval_s)

    def take(self) -> Batch:
        return Batch.concat(self.batches)

    def done(self) -> None:
        self.batches, self.rows = [], 0
        self.last_commit = time.monotonic()


def split_series(point: npt.NDArray[Any], t: npt.NDArray[Any], v: npt.NDArray[Any],
                 q: npt.NDArray[Any], r: npt.NDArray[Any], ids: PointIds
                 ) -> dict[str, Series]:
    """Columns ordered by point into one Series per point key."""
    out: dict[str, Series] = {}
    if len(point) == 0:
        return out
    st = np.flatnonzero(np.r_[True, point[1:] != point[:-1]])
    en = np.r_[st[1:], len(point)]
    t = np.asarray(t, np.float64)
    v = np.asarray(v, np.float64)
    q = np.asarray(q).astype(np.uint8)
    r = (np.asarray(r).astype(np.int64) & 0xFFFFFFFF).astype(np.uint32)
    for a, z, key in zip(st.tolist(), en.tolist(), ids.keys_of(point[st]), strict=True):
        out[key] = Series(t[a:z], v[a:z], q[a:z], r[a:z])
    return out


def dead_rows(items: Sequence[DeadLetter]) -> list[tuple[Any, ...]]:
    return [(d.ts, d.source, d.key, d.value, d.reason, d.category) for d in items]
