"""PostgreSQL's binary COPY format for fixed-width columns, built and parsed with NumPy.

Each row is a field count, then per field a length and the big-endian value. Since every
field here has a fixed width and is never NULL, a whole batch is one structured NumPy array,
written or read without a Python loop (``COPY ... (FORMAT BINARY)``; PostgreSQL docs, COPY,
"Binary Format").

Example:
    >>> import numpy as np
    >>> data = encode([(np.array([1, 2]), "int4"), (np.array([0.5, 1.5]), "float8")])
    >>> [c.tolist() for c in decode(data, ["int4", "float8"])]
    [[1, 2], [0.5, 1.5]]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["PG_EPOCH_US", "decode", "encode"]

HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8
TRAILER = b"\xff\xff"
PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in microseconds since 1970-01-01
_KINDS = {"int2": ">i2", "int4": ">i4", "int8": ">i8", "float8": ">f8", "bool": "?",
          "timestamptz": ">i8"}
_SIZE = {"int2": 2, "int4": 4, "int8": 8, "float8": 8, "bool": 1, "timestamptz": 8}


def _dtype(kinds: Sequence[str]) -> np.dtype[Any]:
    spec: list[tuple[str, str]] = [("n", ">i2")]
    for i, k in enumerate(kinds):
        spec += [(f"l{i}", ">i4"), (f"c{i}", _KINDS[k])]
    return np.dtype(spec)


def encode(columns: Sequence[tuple[npt.ArrayLike, str]]) -> bytes:
    """A binary COPY payload. ``timestamptz`` columns take microseconds since 1970."""
    kinds = [k for _, k in columns]
    n = len(np.asarray(columns[0][0])) if columns else 0
    rows = np.empty(n, dtype=_dtype(kinds))
    rows["n"] = len(kinds)
    for i, (col, kind) in enumerate(columns):
        a = np.asarray(col)
        rows[f"l{i}"] = _SIZE[kind]
        if kind == "timestamptz":
            a = a.astype(np.int64) - PG_EPOCH_US
        elif kind == "int4" and a.dtype == np.uint32:
            a = a.view(np.int32)  # reason bits: the same 32 bits, read back with & 0xFFFFFFFF
        rows[f"c{i}"] = a
    return HEADER + rows.tobytes() + TRAILER


def decode(data: bytes, kinds: Sequence[str]) -> list[npt.NDArray[Any]]:
    """Columns of a binary COPY output whose fields are all fixed-width and not NULL."""
    if not data.startswith(HEADER[:11]):
        raise ValueError("not a binary COPY stream")
    ext = int.from_bytes(data[15:19], "big")
    body = data[19 + ext:]
    if not body.endswith(TRAILER):
        raise ValueError("binary COPY stream without its trailer")
    body = body[:-2]
    dt = _dtype(kinds)
    if len(body) % dt.itemsize:
        raise ValueError("binary COPY rows are not fixed-width (a NULL field?)")
    rows = np.frombuffer(body, dtype=dt)
    for i, k in enumerate(kinds):
        if len(rows) and not bool(np.all(rows[f"l{i}"] == _SIZE[k])):
            raise ValueError(f"column {i} is not a non-NULL {k}")
    out = []
    for i, k in enumerate(kinds):
        c = rows[f"c{i}"].astype(_KINDS[k].replace(">", "="))
        out.append(c + PG_EPOCH_US if k == "timestamptz" else c)
    return out
