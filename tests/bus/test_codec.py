"""The wire codec: round trips of arbitrary batches, and malformed frames refused cleanly."""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from processtwin.bus.codec import (
    HEADER,
    CodecError,
    decode,
    encode,
    message_id,
    table_fingerprint,
)
from processtwin.bus.settings import BusSettings
from processtwin.bus.worker import IngestWorker
from processtwin.core import Batch, DeadLetter, PointSpec, PointTable
from processtwin.pipeline.pipeline import Pipeline
from processtwin.store import MemoryStore

N_POINTS = 50


@st.composite
def batches(draw: st.DrawFn) -> Batch:
    n = draw(st.integers(0, 40))
    point = draw(hnp.arrays(np.int32, n, elements=st.integers(0, N_POINTS - 1)))
    ts = draw(hnp.arrays(np.float64, n, elements=st.floats(-1e10, 1e10)))
    value = draw(hnp.arrays(np.float64, n, elements=st.floats(allow_nan=True,
                                                               allow_infinity=True)))
    quality = draw(hnp.arrays(np.uint8, n, elements=st.integers(0, 2)))
    reason = draw(hnp.arrays(np.uint32, n, elements=st.integers(0, 2**32 - 1)))
    return Batch(point, ts, value, quality, reason)


dead_letters = st.lists(st.builds(
    DeadLetter, st.text(max_size=10), st.text(max_size=10), st.text(max_size=20),
    st.text(max_size=20), ts=st.floats(0, 2e9), category=st.sampled_from(["invalid", "type"])),
    max_size=3)


@given(batches(), dead_letters, st.integers(0, 2**64 - 1))
def test_round_trip(batch: Batch, dead: list[DeadLetter], fp: int) -> None:
    out = decode(encode(batch, dead, fingerprint=fp), n_points=N_POINTS, fingerprint=fp)
    for col in ("point", "ts", "value", "quality", "reason"):
        a, b = getattr(batch, col), getattr(out.batch, col)
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    assert out.dead == dead
    assert out.fingerprint == fp


@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_codec_error_only(data: bytes) -> None:
    try:
        decode(data, n_points=N_POINTS)
        why = "decoded"
    except CodecError as exc:
        why = str(exc)
    assert why


@given(batches(), st.data())
def test_corrupted_frames_raise_codec_error_only(batch: Batch, data: st.DataObject) -> None:
    frame = bytearray(encode(batch, [DeadLetter("s", "k", "v", "r", ts=1.5)], fingerprint=1))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(frame) - 1))
        frame[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(frame)))
    for candidate in (bytes(frame), bytes(frame[:cut])):
        try:
            decode(candidate, n_points=N_POINTS, fingerprint=1)
        except CodecError:
            pass


@pytest.mark.parametrize(("frame", "why"), [
    (b"", "short frame"),
    (b"XXXX" + bytes(20), "bad magic"),
    (HEADER.pack(b"PTWB", 9, 0, 0, 0, 0, 0), "unsupported version"),
    (HEADER.pack(b"PTWB", 1, 0, 0, 3, 0, 0), "its header says"),
    (encode(Batch.of([0], [1.0], [2.0]), fingerprint=5), "fingerprint"),
    (encode(Batch.of([N_POINTS], [1.0], [2.0])), "out of range"),
    (encode(Batch.of([0], [float("nan")], [2.0])), "not finite"),
    (encode(Batch.of([0], [1.0], [2.0], quality=[7])), "unknown quality"),
    (HEADER.pack(b"PTWB", 1, 0, 0, 0, 3, 0) + b"{x]", "not JSON"),
    (HEADER.pack(b"PTWB", 1, 0, 0, 0, 4, 0) + b"[42]", "not an object"),
])
def test_malformed_frames_say_why(frame: bytes, why: str) -> None:
    with pytest.raises(CodecError, match=why):
        decode(frame, n_points=N_POINTS, fingerprint=0)


def test_message_id_depends_on_point_and_timestamp_only() -> None:
    a = Batch.of([0, 1], [1.0, 2.0], [3.0, 4.0])
    assert message_id(a) == message_id(Batch.of([0, 1], [1.0, 2.0], [9.0, 9.0]))
    assert message_id(a) != message_id(Batch.of([0, 1], [1.0, 2.5], [3.0, 4.0]))
    assert message_id(a) != message_id(Batch.of([1, 1], [1.0, 2.0], [3.0, 4.0]))
    assert table_fingerprint(["a.x", "b.y"]) != table_fingerprint(["b.y", "a.x"])


def test_frame_is_compact() -> None:
    n = 1000
    frame = encode(Batch.of(np.zeros(n), np.arange(n), np.ones(n)))
    assert len(frame) == HEADER.size + 25 * n
    assert struct.unpack_from("<I", frame, 8)[0] == n


# ---------------------------------------------------------------------- the worker's handling
@dataclass
class FakeMsg:
    """A JetStream message double: records ack/term (unit test of the worker's handling)."""

    data: bytes
    seq: int
    subject: str = "ptwin.s.ingest.0"
    acked: list[str] = field(default_factory=list)

    @property
    def metadata(self) -> Any:
        return SimpleNamespace(num_delivered=1, sequence=SimpleNamespace(stream=self.seq))

    async def ack(self) -> None:
        self.acked.append("ack")

    async def term(self) -> None:
        self.acked.append("term")

    async def in_progress(self) -> None:
        pass


TABLE = PointTable([PointSpec(twin=f"u{i}", name="x") for i in range(N_POINTS)])


def _worker() -> tuple[IngestWorker, MemoryStore]:
    store = MemoryStore()
    store.register(TABLE)
    w = IngestWorker(BusSettings(site="unit", partitions=1), [0], table=TABLE,
                     pipeline=Pipeline(TABLE), store=store)
    w._suspect[0] = 0
    return w, store


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.binary(max_size=60).map(lambda b: ("bad", b)),
                          st.integers(1, 20).map(lambda n: ("good", n))), max_size=12))
def test_malformed_frames_become_dead_letters_and_valid_ones_are_stored(
        frames: list[tuple[str, Any]]) -> None:
    w, store = _worker()
    fp = w.fingerprint
    msgs, expect, bad = [], 0, 0
    t = 1.7e9
    for i, (kind, x) in enumerate(frames):
        if kind == "good":
            data = encode(Batch.of(np.arange(x) % N_POINTS, t + np.arange(x), np.ones(x)),
                          fingerprint=fp)
            t += x
            expect += x
        else:
            data, bad = x, bad + 1
        msgs.append(FakeMsg(data, i + 1))
    asyncio.run(w.handle(0, msgs))
    assert store.count() == expect
    assert w.stats.codec_errors == bad
    dead = store.dead_letters(limit=1000)
    assert len(dead) == bad
    assert all(d.category == "codec" and d.reason.startswith("codec: ") for d in dead)
    for (kind, _), m in zip(frames, msgs, strict=True):
        assert m.acked == (["ack"] if kind == "good" else ["term"])
