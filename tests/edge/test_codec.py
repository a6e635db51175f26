"""The record codec: whole records read back, a torn or garbled tail is cut off."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from processtwin.edge.codec import HEADER_BYTES, encode_record, scan

payloads = st.lists(st.binary(max_size=300), max_size=30)


def framed(items: list[bytes]) -> tuple[bytes, list[int]]:
    buf, ends = b"", []
    for p in items:
        buf += encode_record(p)
        ends.append(len(buf))
    return buf, ends


@given(payloads)
def test_roundtrip(items: list[bytes]) -> None:
    buf, _ = framed(items)
    records, valid = scan(buf)
    assert [p for _, p in records] == items
    assert valid == len(buf)


@given(payloads, st.data())
def test_a_cut_anywhere_keeps_exactly_the_whole_records_before_it(
        items: list[bytes], data: st.DataObject) -> None:
    buf, ends = framed(items)
    cut = data.draw(st.integers(0, len(buf)))
    records, valid = scan(buf[:cut])
    whole = [e for e in ends if e <= cut]
    assert [p for _, p in records] == items[:len(whole)]
    assert valid == (whole[-1] if whole else 0)


@given(st.lists(st.binary(min_size=1, max_size=200), min_size=1, max_size=20), st.data())
def test_a_garbled_last_record_is_dropped_and_the_rest_kept(
        items: list[bytes], data: st.DataObject) -> None:
    buf, ends = framed(items)
    start = ends[-2] if len(ends) > 1 else 0
    pos = data.draw(st.integers(start, len(buf) - 1))
    flip = data.draw(st.integers(1, 255))
    bad = bytearray(buf)
    bad[pos] ^= flip
    records, valid = scan(bytes(bad))
    assert [p for _, p in records] == items[:-1]
    assert valid == start


@given(st.binary(max_size=64))
def test_garbage_never_raises(raw: bytes) -> None:
    records, valid = scan(raw)
    assert 0 <= valid <= len(raw)
    assert all(off + HEADER_BYTES <= valid for off, _ in records)
