"""Quality figures: sliding-window shares against a per-row reference, last problem, drift."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processtwin.core import Batch, PointSpec, PointTable, Quality, Reason
from processtwin.errors import InvalidInputError
from processtwin.pipeline.drift import DriftStatus
from processtwin.pipeline.gaps import Gap
from processtwin.pipeline.stats import QualityStats

TABLE = PointTable([PointSpec(twin="u", name=n) for n in ("a", "b")])
WINDOW, BUCKETS = 60.0, 6  # buckets of 10 s
Row = tuple[int, float, int, bool]


def category(q: int, imputed: bool) -> int:
    return 3 if imputed else q


def reference(rows: list[Row], now: float) -> list[list[int]]:
    """Rows per category whose bucket is among the last BUCKETS ending at now's bucket.

    A bucket that was overwritten by a newer period of the same ring slot has lost its rows,
    so the reference replays that rule: per (point, slot), only the newest period counts.
    """
    width = WINDOW / BUCKETS
    newest: dict[tuple[int, int], int] = {}
    for p, t, _, _ in rows:
        e = math.floor(t / width)
        newest[(p, e % BUCKETS)] = max(newest.get((p, e % BUCKETS), e), e)
    e_now = math.floor(now / width)
    out = [[0, 0, 0, 0] for _ in range(len(TABLE))]
    for p, t, q, imp in rows:
        e = math.floor(t / width)
        if newest[(p, e % BUCKETS)] == e and e_now - BUCKETS < e <= e_now:
            out[p][category(q, imp)] += 1
    return out


rows_strategy = st.lists(
    st.tuples(st.integers(0, 1), st.floats(0, 300), st.sampled_from([0, 0, 0, 1, 2]),
              st.booleans()), min_size=1, max_size=100)


def _batch(rows: list[Row]) -> Batch:
    p, t, q, imp = zip(*rows, strict=True)
    reason = [int(Reason.IMPUTED) if i else 0 for i in imp]
    q = tuple(1 if i else x for x, i in zip(q, imp, strict=True))
    return Batch.of(p, t, np.zeros(len(p)), q, reason)


@settings(max_examples=300, deadline=None)
@given(rows_strategy, st.integers(1, 4), st.floats(0, 400))
def test_window_counts_match_reference_whatever_the_batching(rows: list[Row], parts: int,
                                                             now: float) -> None:
    rows = [(p, t, 1 if imp else q, imp) for p, t, q, imp in rows]
    stats = QualityStats(TABLE, WINDOW, BUCKETS)
    size = math.ceil(len(rows) / parts)
    for i in range(0, len(rows), size):
        stats.update(_batch(rows[i:i + size]))
    assert stats.counts(now).tolist() == reference(rows, now)


def test_shares_last_problem_gaps_and_drift() -> None:
    stats = QualityStats(TABLE, WINDOW, BUCKETS)
    assert np.isnan(stats.shares()).all()
    stats.update(Batch.of([0] * 4 + [1], [1, 2, 3, 4, 5], [0.0] * 5,
                          [0, Quality.UNCERTAIN, Quality.BAD, Quality.UNCERTAIN, 0],
                          [0, Reason.OUTLIER, Reason.RANGE, Reason.IMPUTED, 0]))
    a = stats.point("u.a", now=5.0)
    assert (a.rows, a.good, a.uncertain, a.bad, a.imputed) == (4, 0.25, 0.25, 0.25, 0.25)
    assert (a.last_problem, a.last_problem_ts) == ("uncertain: imputed", 4.0)
    b = stats.point(1, now=5.0)
    assert b.good == 1.0 and b.last_problem is None
    stats.record_gaps([Gap(0, 1.0, 9.0, 0), Gap(0, 20.0, 30.0, 3)])
    stats.set_drift([DriftStatus("u.a", "u.b", True, 0.4, 9.0, 0.0, 0.1),
                     DriftStatus("u.zz", "u.b", True, 0.4, 9.0, 0.0, 0.1)])
    a = stats.point("u.a", now=5.0)
    assert a.gaps == 2 and a.drift and a.drift_bias == 0.4
    assert a.to_dict()["last_problem"] == "uncertain: imputed"
    # an hour later the window is empty but the last problem is remembered
    later = stats.point("u.a", now=3600.0)
    assert later.rows == 0 and later.to_dict()["good"] is None
    assert later.last_problem_ts == 4.0
    stats.set_drift([DriftStatus("u.a", "u.b", False, 0.0, 0.0, 0.0, 0.1)])
    assert not stats.point("u.a").drift and stats.point("u.a").drift_bias is None


def test_an_older_problem_does_not_replace_a_newer_one() -> None:
    stats = QualityStats(TABLE)
    stats.update(Batch.of([0], [10.0], [0.0], [Quality.BAD], [Reason.NAN]))
    stats.update(Batch.of([0], [5.0], [0.0], [Quality.BAD], [Reason.RANGE]))
    assert stats.point(0).last_problem == "bad: nan"
    with pytest.raises(InvalidInputError, match="window_s"):
        QualityStats(TABLE, window_s=0)
