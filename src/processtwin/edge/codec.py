"""The record codec of the edge's disk buffer: pure, no I/O, fuzzed.

A segment file is a run of records, each ``[length u32][crc u32][payload]`` (little-endian).
``crc`` is the CRC-32 of the four length bytes and the payload, so a torn or garbled length
is caught as surely as a torn payload. A crash can leave the last record of the segment being
written incomplete; :func:`scan` stops at the first record that is incomplete, too long or
fails its CRC, and reports where the valid part ends so the file can be cut back there.

Example:
    >>> buf = encode_record(b"a") + encode_record(b"bc")
    >>> scan(buf + encode_record(b"def")[:-1])
    ([(0, b'a'), (9, b'bc')], 19)
"""

from __future__ import annotations

import struct
import zlib

__all__ = ["HEADER_BYTES", "MAX_RECORD_BYTES", "encode_record", "record_size", "scan"]

_HEADER = struct.Struct("<II")
HEADER_BYTES = _HEADER.size
#: A length above this is taken for garbage, not for a record.
MAX_RECORD_BYTES = 64 * 1024 * 1024


def record_size(payload_len: int) -> int:
    """Bytes a payload of ``payload_len`` bytes takes on disk."""
    return HEADER_BYTES + payload_len


def encode_record(payload: bytes) -> bytes:
    """One framed record."""
    n = len(payload)
    if n > MAX_RECORD_BYTES:
        raise ValueError(f"record of {n} bytes exceeds {MAX_RECORD_BYTES}")
    head = n.to_bytes(4, "little")
    return _HEADER.pack(n, zlib.crc32(payload, zlib.crc32(head))) + payload


def scan(buf: bytes | bytearray | memoryview) -> tuple[list[tuple[int, bytes]], int]:
    """Every valid record of ``buf`` as ``(offset, payload)``, and where the valid part ends.

    The scan stops at the first record that is cut short, claims more than
    :data:`MAX_RECORD_BYTES` or fails its CRC: nothing after a bad record can be trusted.
    """
    view = memoryview(buf)
    out: list[tuple[int, bytes]] = []
    pos, end = 0, len(view)
    while pos + HEADER_BYTES <= end:
        n, crc = _HEADER.unpack_from(view, pos)
        stop = pos + HEADER_BYTES + n
        if n > MAX_RECORD_BYTES or stop > end:
            break
        payload = bytes(view[pos + HEADER_BYTES:stop])
        if zlib.crc32(payload, zlib.crc32(n.to_bytes(4, "little"))) != crc:
            break
        out.append((pos, payload))
        pos = stop
    return out, pos
