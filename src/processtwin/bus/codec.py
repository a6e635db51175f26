"""Batches on the wire: a compact binary frame of NumPy columns plus a small header.

One message carries one :class:`~processtwin.core.batch.Batch` (and, optionally, the dead
letters a connector produced with it). Layout, little-endian::

    offset  size   field
    0       4      magic b"PTWB"
    4       1      version (1)
    5       1      flags (0)
    6       2      reserved (0)
    8       4      n rows
    12      4      length of the dead-letter section in bytes
    16      8      point-table fingerprint (see :func:`table_fingerprint`)
    24      8n     ts      float64   source timestamps, Unix seconds UTC
    ..      8n     value   float64
    ..      4n     point   int32     index into the point table
    ..      4n     reason  uint32    reason bits
    ..      1n     quality uint8
    ..      d      dead letters: JSON list of DeadLetter.to_dict() objects (orjson)

25 bytes a reading, decoded with ``np.frombuffer`` (no per-row Python). Point ids are
positions in the :class:`~processtwin.core.points.PointTable` built from twin.yaml, so the
header carries a fingerprint of the table's keys: a worker built from another twin.yaml
refuses the message instead of storing values under the wrong points.

:func:`decode` checks everything (magic, version, sizes, fingerprint, point ids in range,
finite timestamps, known quality, the dead-letter JSON) and raises :class:`CodecError` with
the reason; it never raises anything else, whatever the bytes (a hypothesis test fuzzes it).

:func:`message_id` is the JetStream ``Nats-Msg-Id`` of a batch: a digest of its
(point, source timestamp) columns, so a batch published twice (a publisher retrying after a
lost ack, or restarted) is stored once by the stream's duplicate window.

Example:
    >>> from processtwin.core.batch import Batch
    >>> b = Batch.of([0, 1], [10.0, 10.0], [1.5, 2.5])
    >>> frame = encode(b, fingerprint=7)
    >>> len(frame)
    74
    >>> decode(frame, n_points=2, fingerprint=7).batch.value.tolist()
    [1.5, 2.5]
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from processtwin.core.batch import Batch, DeadLetter
from processtwin.core.quality import Quality
from processtwin.errors import InvalidInputError

__all__ = ["HEADER", "MAGIC", "CodecError", "Decoded", "decode", "encode", "message_id",
           "table_fingerprint"]

MAGIC = b"PTWB"
VERSION = 1
HEADER = struct.Struct("<4sBBHIIQ")  # 24 bytes
ROW_BYTES = 25
_MAX_QUALITY = int(max(Quality))
_DEAD_FIELDS = {"source": str, "key": str, "value": str, "reason": str, "category": str}


class CodecError(InvalidInputError):
    """A message that is not a valid batch frame; the text says why."""


@dataclass(frozen=True, slots=True)
class Decoded:
    """What one message carried."""

    batch: Batch
    dead: list[DeadLetter]
    fingerprint: int


def table_fingerprint(keys: Iterable[str]) -> int:
    """A 64-bit digest of the point keys in table order (publisher and worker must agree)."""
    h = hashlib.blake2b("\n".join(keys).encode(), digest_size=8)
    return int.from_bytes(h.digest(), "little")


def message_id(batch: Batch, dead: Sequence[DeadLetter] = (), fingerprint: int = 0) -> str:
    """The ``Nats-Msg-Id``: digest of the (point, source timestamp) columns (and dead letters)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(fingerprint.to_bytes(8, "little"))
    h.update(np.ascontiguousarray(batch.point, "<i4").tobytes())
    h.update(np.ascontiguousarray(batch.ts, "<f8").tobytes())
    if dead:
        h.update(orjson.dumps([(d.source, d.key, d.value, d.reason, d.ts) for d in dead]))
    return h.hexdigest()


def encode(batch: Batch, dead: Sequence[DeadLetter] = (), *, fingerprint: int = 0) -> bytes:
    """The frame of ``batch`` (and ``dead``), see the module docstring."""
    tail = orjson.dumps([d.to_dict() for d in dead]) if dead else b""
    n = len(batch)
    return b"".join((
        HEADER.pack(MAGIC, VERSION, 0, 0, n, len(tail), fingerprint),
        np.ascontiguousarray(batch.ts, "<f8").tobytes(),
        np.ascontiguousarray(batch.value, "<f8").tobytes(),
        np.ascontiguousarray(batch.point, "<i4").tobytes(),
        np.ascontiguousarray(batch.reason, "<u4").tobytes(),
        np.ascontiguousarray(batch.quality, "u1").tobytes(),
        tail,
    ))


def _dead_letters(raw: bytes) -> list[DeadLetter]:
    try:
        items = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise CodecError(f"dead letters: not JSON ({exc})") from None
    if not isinstance(items, list):
        raise CodecError("dead letters: not a list")
    out = []
    for i, it in enumerate(items):
        if not isinstance(it, dict):
            raise CodecError(f"dead letter {i}: not an object")
        bad = [k for k, t in _DEAD_FIELDS.items() if not isinstance(it.get(k), t)]
        ts = it.get("ts")
        if not isinstance(ts, int | float) or isinstance(ts, bool):
            bad.append("ts")
            ts = 0.0
        if bad or set(it) - {*_DEAD_FIELDS, "ts"}:
            raise CodecError(f"dead letter {i}: bad or unknown fields {sorted(bad) or set(it)}")
        out.append(DeadLetter(it["source"], it["key"], it["value"], it["reason"],
                              ts=float(ts), category=it["category"]))
    return out


def decode(data: bytes, *, n_points: int | None = None,
           fingerprint: int | None = None) -> Decoded:
    """Check and unpack a frame; raise :class:`CodecError` on anything malformed.

    ``n_points`` bounds the point ids, ``fingerprint`` must match the header when given.
    """
    if len(data) < HEADER.size:
        raise CodecError(f"short frame: {len(data)} bytes, the header alone is {HEADER.size}")
    magic, version, flags, _, n, dlen, fp = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise CodecError(f"bad magic {magic!r}")
    if version != VERSION or flags != 0:
        raise CodecError(f"unsupported version {version} (flags {flags})")
    want = HEADER.size + ROW_BYTES * n + dlen
    if len(data) != want:
        raise CodecError(f"frame is {len(data)} bytes, its header says {want}")
    if fingerprint is not None and fp != fingerprint:
        raise CodecError(f"point-table fingerprint {fp:016x} is not ours ({fingerprint:016x})"
                         ": the publisher uses another twin.yaml")
    buf = memoryview(data)
    off = HEADER.size
    cols: list[Any] = []
    for dtype, size in (("<f8", 8), ("<f8", 8), ("<i4", 4), ("<u4", 4), ("u1", 1)):
        cols.append(np.frombuffer(buf, dtype, n, off).astype(dtype[-2:], copy=True))
        off += size * n
    ts, value, point, reason, quality = cols
    if n and not np.isfinite(ts).all():
        raise CodecError("a source timestamp is not finite")
    if n and (point.min() < 0 or (n_points is not None and point.max() >= n_points)):
        raise CodecError(f"point id out of range [0, {n_points})")
    if n and quality.max() > _MAX_QUALITY:
        raise CodecError(f"unknown quality {int(quality.max())}")
    dead = _dead_letters(bytes(buf[off:])) if dlen else []
    batch = Batch(point, ts, value, quality, reason)
    return Decoded(batch, dead, fp)
