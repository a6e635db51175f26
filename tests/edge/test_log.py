"""The segment-file buffer: FIFO order, acknowledgement, the byte bound, torn tails."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processtwin.edge.log import SegmentLog
from processtwin.errors import InvalidInputError


def rec(i: int, size: int = 100) -> bytes:
    return f"{i:08d}".encode() * (size // 8)


def drain(log: SegmentLog, start: int = 0) -> list[tuple[int, bytes]]:
    out: list[tuple[int, bytes]] = []
    seq = start
    while True:
        got = log.read(seq, 7)
        if not got:
            return out
        out += got
        seq = got[-1][0] + 1


def test_fifo_ack_and_reopen(tmp_path: Path) -> None:
    log = SegmentLog(tmp_path, max_bytes=1 << 20, segment_bytes=1024)
    seqs = [log.append(rec(i)) for i in range(50)]
    assert seqs == list(range(1, 51))
    assert [p for _, p in drain(log)] == [rec(i) for i in range(50)]
    log.ack(20)
    assert log.pending_records == 30
    assert [s for s, _ in drain(log)] == list(range(21, 51))
    segments_before = len(list(tmp_path.glob("*.seg")))
    log.ack(40)
    assert len(list(tmp_path.glob("*.seg"))) < segments_before  # delivered segments go
    log.close()
    again = SegmentLog(tmp_path, max_bytes=1 << 20, segment_bytes=1024)
    assert [s for s, _ in drain(again)] == list(range(41, 51))
    assert again.append(b"next") == 51
    again.close()


def test_overflow_drops_the_oldest_counts_them_and_keeps_the_newest_in_order(
        tmp_path: Path) -> None:
    log = SegmentLog(tmp_path, max_bytes=8192, segment_bytes=1024)
    n = 300
    for i in range(n):
        log.append(rec(i))
    assert log.disk_bytes <= 8192
    kept = drain(log)
    assert log.stats.dropped > 0
    assert log.stats.dropped + len(kept) == n
    assert log.pending_records == len(kept)
    # the newest survive, contiguous and in order
    assert [p for _, p in kept] == [rec(i) for i in range(n - len(kept), n)]
    assert [s for s, _ in kept] == list(range(n - len(kept) + 1, n + 1))


def test_acknowledged_records_are_not_counted_as_dropped(tmp_path: Path) -> None:
    log = SegmentLog(tmp_path, max_bytes=8192, segment_bytes=1024)
    for i in range(60):
        log.ack(log.append(rec(i)))
    assert log.stats.dropped == 0
    assert log.pending_records == 0


def test_a_record_larger_than_the_bound_is_dropped_alone(tmp_path: Path) -> None:
    log = SegmentLog(tmp_path, max_bytes=4096)
    log.append(b"a")
    log.append(b"x" * 5000)
    log.append(b"b")
    assert [p for _, p in drain(log)] == [b"a", b"b"]
    assert log.stats.dropped == 1


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(1, 40), cut=st.integers(1, 200), fsync=st.sampled_from(
    ["always", "interval", "never"]))
def test_torn_tail_is_cut_and_every_earlier_record_reads_back(
        tmp_path_factory: pytest.TempPathFactory, n: int, cut: int, fsync: str) -> None:
    d = tmp_path_factory.mktemp("torn")
    log = SegmentLog(d, max_bytes=1 << 20, segment_bytes=2048, fsync=fsync)  # type: ignore[arg-type]
    for i in range(n):
        log.append(rec(i, 96))
    log.close()
    last = sorted(d.glob("*.seg"))[-1]
    size = last.stat().st_size
    cut = min(cut, size - 1)  # tear the last record somewhere inside it
    with open(last, "r+b") as f:
        f.truncate(size - cut)
    again = SegmentLog(d, max_bytes=1 << 20, segment_bytes=2048, fsync=fsync)  # type: ignore[arg-type]
    got = [p for _, p in drain(again)]
    lost = n - len(got)
    assert got == [rec(i, 96) for i in range(len(got))]
    assert lost >= 1
    assert again.stats.torn_bytes > 0 or (size - cut) % 104 == 0
    nxt = again.append(b"after")
    assert [p for _, p in drain(again)][-1] == b"after"
    assert nxt == len(got) + 1
    again.close()


def test_rejects_a_bound_too_small(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError):
        SegmentLog(tmp_path, max_bytes=100)
