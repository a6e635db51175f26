"""Recorded tag values from CSV or Parquet, in time order.

Two layouts are read (column names are matched case-insensitively):

* **long**: one reading per row, columns ``timestamp`` (or ``ts``/``time``), ``tag`` (or
  ``point``), ``value`` and optionally ``quality``::

      timestamp,tag,value,quality
      2024-05-01T10:00:00Z,CSTR.TT101,131.2,good
      2024-05-01T10:00:00Z,CSTR.FT101,18.0,0

* **wide**: ``timestamp`` and one column per tag; an empty cell is no reading::

      timestamp,CSTR.TT101,CSTR.FT101
      1714557600.0,131.2,18.0

Timestamps are numbers (seconds since the epoch; milli-, micro- or nanoseconds are told by
their magnitude), ISO 8601 text (no zone: UTC) or Parquet timestamps. Quality is 0/1/2 or
good/uncertain/bad (default good). A row whose timestamp, value or quality cannot be read
becomes a :class:`~processtwin.core.batch.DeadLetter` with the reason and the row number;
the rest replay. Rows are replayed in timestamp order (ties keep the file's order).

Example:
    >>> import io
    >>> rec = read_recording(io.StringIO("ts,tag,value\\n2,b,1.5\\n1,a,x\\n1,a,2\\n"), "csv")
    >>> rec.tags, rec.ts.tolist(), rec.value.tolist(), rec.dead[0].reason
    (('a', 'b'), [1.0, 2.0], [2.0, 1.5], 'type: not a number: x')
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from processtwin.connectors.mqtt.settings import DEFAULT_QUALITY_MAP
from processtwin.core.batch import DeadLetter
from processtwin.errors import InvalidInputError

__all__ = ["Recording", "load_recording", "read_recording"]

_TS = ("timestamp", "ts", "time")
_TAG = ("tag", "point")


@dataclass(frozen=True, slots=True)
class Recording:
    """Readings in time order: ``tag[i]`` indexes :attr:`tags`."""

    tags: tuple[str, ...]
    tag: npt.NDArray[np.int32]
    ts: npt.NDArray[np.float64]
    value: npt.NDArray[np.float64]
    quality: npt.NDArray[np.uint8]
    dead: tuple[DeadLetter, ...] = ()
    source: str = ""

    def __len__(self) -> int:
        return len(self.ts)

    def first_values(self) -> dict[str, float]:
        """Each tag's first value (what a birth certificate or a server starts with)."""
        out: dict[str, float] = {}
        for i, v in zip(self.tag.tolist(), self.value.tolist(), strict=True):
            out.setdefault(self.tags[i], v)
        return out


def load_recording(path: str | Path) -> Recording:
    """Read a ``.csv`` or ``.parquet`` recording (see the module doc for the layout)."""
    p = Path(path)
    kind = {".csv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet"}.get(
        p.suffix.lower())
    if kind is None:
        raise InvalidInputError(f"{p}: a recording is .csv or .parquet, not {p.suffix!r}")
    try:
        return read_recording(p, kind, source=str(p))
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"{p}: cannot read: {exc}") from exc


def read_recording(src: str | Path | IO[Any], kind: str, *, source: str = "recording"
                   ) -> Recording:
    """Read a recording from a path or file object (``kind`` ``csv`` or ``parquet``)."""
    if kind == "csv":
        df = pd.read_csv(src, dtype=str, keep_default_na=False, skipinitialspace=True)
    elif kind == "parquet":
        df = pd.read_parquet(src)
    else:
        raise InvalidInputError(f"unknown recording kind {kind!r}: csv or parquet")
    cols = {str(c).strip().lower(): c for c in df.columns}
    ts_col = next((cols[c] for c in _TS if c in cols), None)
    if ts_col is None:
        raise InvalidInputError(f"{source}: no timestamp column (one of {', '.join(_TS)})")
    tag_col = next((cols[c] for c in _TAG if c in cols), None)
    if tag_col is not None and "value" in cols:
        long = pd.DataFrame({"ts": df[ts_col], "tag": df[tag_col].astype(str),
                             "value": df[cols["value"]],
                             "quality": df[cols["quality"]] if "quality" in cols else 0,
                             "row": np.arange(len(df)) + (2 if kind == "csv" else 0)})
    else:
        tags = [c for c in df.columns if c != ts_col]
        if not tags:
            raise InvalidInputError(f"{source}: no tag columns")
        frame = df.assign(row=np.arange(len(df)) + (2 if kind == "csv" else 0))
        long = frame.melt(id_vars=[ts_col, "row"], value_vars=tags, var_name="tag",
                          value_name="value").rename(columns={ts_col: "ts"})
        long = long[~_blank(long["value"])].assign(quality=0)
        long = long.sort_values("row", kind="stable")
    return _build(long, source)


def _blank(s: pd.Series) -> npt.NDArray[np.bool_]:
    text = s.astype(str).str.strip()
    return np.asarray(s.isna() | (text == "") | (text.str.lower() == "nan"), dtype=bool)


def _build(long: pd.DataFrame, source: str) -> Recording:
    dead: list[DeadLetter] = []
    rows = long["row"].to_numpy()
    tags_col = long["tag"].astype(str).to_numpy()

    def reject(mask: npt.NDArray[np.bool_], what: pd.Series, reason: str, cat: str) -> None:
        for i in np.flatnonzero(mask)[:10_000]:
            dead.append(DeadLetter(source, f"{tags_col[i]}@row{rows[i]}", repr(what.iloc[i])[:200],
                                   reason.format(what.iloc[i]), category=cat))

    ts = _timestamps(long["ts"])
    bad_ts = ~np.isfinite(ts) | (ts <= 0)
    reject(bad_ts, long["ts"], "timestamp: not a timestamp: {!r}", "timestamp")

    raw_v = long["value"]
    if raw_v.dtype == bool:
        raw_v = raw_v.astype(float)
    lowered = raw_v.astype(str).str.strip().str.lower()
    value = pd.to_numeric(raw_v.where(~lowered.isin(["true", "false"]),
                                      (lowered == "true").astype(float)),
                          errors="coerce").to_numpy(dtype=np.float64)
    blank = _blank(raw_v)
    bad_v = np.isnan(value) & ~blank & ~bad_ts
    reject(bad_v, raw_v, "type: not a number: {}", "type")

    q_raw = long["quality"]
    quality = np.zeros(len(long), np.uint8)
    bad_q = np.zeros(len(long), bool)
    if not (isinstance(q_raw, pd.Series) and q_raw.dtype.kind in "iu" and (q_raw == 0).all()):
        qs = pd.Series(q_raw, index=long.index).astype(str).str.strip().str.lower()
        qs = qs.str.replace(r"\.0$", "", regex=True).replace({"": "0", "nan": "0"})
        mapped = qs.map({k: int(v) for k, v in DEFAULT_QUALITY_MAP.items()})
        bad_q = mapped.isna().to_numpy() & ~bad_ts & ~bad_v
        reject(bad_q, qs, "quality: unknown value {!r}", "quality")
        quality = mapped.fillna(0).to_numpy(dtype=np.uint8)
    # a blank value is a reading only when its quality says it has no number
    bad_blank = blank & (quality == 0) & ~bad_ts
    reject(bad_blank, raw_v, "type: no value with good quality", "type")

    keep = ~(bad_ts | bad_v | bad_q | bad_blank)
    ts, value, quality, names = ts[keep], value[keep], quality[keep], tags_col[keep]
    order = np.argsort(ts, kind="stable")
    tags, idx = np.unique(names[order], return_inverse=True)
    return Recording(tuple(str(t) for t in tags), idx.astype(np.int32), ts[order],
                     value[order], quality[order], tuple(dead), source)


def _timestamps(s: pd.Series) -> npt.NDArray[np.float64]:
    """Seconds since the epoch (NaN where the text or number is not a timestamp)."""
    if pd.api.types.is_datetime64_any_dtype(s):
        t = pd.to_datetime(s, utc=True).dt.as_unit("ns")
        out = t.astype("int64").to_numpy(dtype=np.float64) / 1e9
        out[t.isna().to_numpy()] = np.nan
        return np.asarray(out, dtype=np.float64)
    num = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64)
    mag = np.abs(num)
    scale = np.where(mag > 1e17, 1e-9, np.where(mag > 1e14, 1e-6, np.where(mag > 1e11, 1e-3,
                                                                            1.0)))
    out = num * scale
    text = np.isnan(num)
    if text.any():
        parsed = pd.to_datetime(s[text], utc=True, errors="coerce", format="ISO8601"
                                ).dt.as_unit("ns")
        secs = parsed.astype("int64").to_numpy(dtype=np.float64) / 1e9
        secs[parsed.isna().to_numpy()] = np.nan
        out[text] = secs
    return np.asarray(out, dtype=np.float64)
