"""Export history from any store to Arrow, pandas, Polars, Parquet or CSV.

Every export is a *long* table, one row per point and time, with the columns

======== =========================== ==============================================
column   type                        meaning
======== =========================== ==============================================
key      string                      ``twin.point``
ts       timestamp[us, UTC]          source time (bucket start when downsampled)
value    float64                     NaN where there is no value
quality  uint8                       0 good, 1 uncertain, 2 bad
reason   uint32                      :class:`processtwin.core.quality.Reason` bits
======== =========================== ==============================================

``every``/``agg`` downsample as :meth:`TimeSeriesStore.query_many` does. pandas and Polars
are optional dependencies, imported only when asked for. :func:`export` is what the
``ptwin export`` command calls: it writes a file and picks the format by its suffix.

Example:
    >>> from processtwin.core import Batch, PointSpec, PointTable
    >>> from processtwin.store import MemoryStore
    >>> from processtwin.store.export import to_arrow
    >>> s = MemoryStore()
    >>> s.register(PointTable([PointSpec(twin="t", name="x")]))
    >>> s.append(Batch.of([0, 0], [0.0, 1.0], [2.0, 3.0]))
    2
    >>> to_arrow(s).column("value").to_pylist()
    [2.0, 3.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from processtwin.errors import InvalidInputError
from processtwin.store.base import DEFAULT_MAX_QUALITY, Source, TimeSeriesStore

if TYPE_CHECKING:
    import polars

__all__ = ["FORMATS", "export", "to_arrow", "to_pandas", "to_parquet", "to_polars"]

FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}
SCHEMA = pa.schema([("key", pa.string()), ("ts", pa.timestamp("us", tz="UTC")),
                    ("value", pa.float64()), ("quality", pa.uint8()), ("reason", pa.uint32())])


def to_arrow(store: TimeSeriesStore, keys: Sequence[str] | None = None,
             start: float | None = None, end: float | None = None,
             every: float | None = None, agg: str = "avg", *,
             max_quality: int = DEFAULT_MAX_QUALITY, source: Source = "auto") -> pa.Table:
    """History as an Arrow table (the long layout above), ordered by key and time."""
    got = store.query_many(keys, start, end, every, agg, max_quality=max_quality,
                           source=source)
    names = sorted(got)
    series = [got[k] for k in names]
    if not series:
        return SCHEMA.empty_table()
    lengths = [len(s) for s in series]
    us = np.round(np.concatenate([s.ts for s in series]) * 1e6).astype(np.int64)
    return pa.table({
        "key": pa.DictionaryArray.from_arrays(
            pa.array(np.repeat(np.arange(len(names), dtype=np.int32), lengths)),
            pa.array(names, pa.string())).cast(pa.string()),
        "ts": pa.array(us, pa.timestamp("us", tz="UTC")),
        "value": pa.array(np.concatenate([s.value for s in series]), pa.float64()),
        "quality": pa.array(np.concatenate([s.quality for s in series]), pa.uint8()),
        "reason": pa.array(np.concatenate([s.reason for s in series]), pa.uint32()),
    }, schema=SCHEMA)


def to_pandas(store: TimeSeriesStore, keys: Sequence[str] | None = None,
              start: float | None = None, end: float | None = None,
              every: float | None = None, agg: str = "avg", *, wide: bool = False,
              max_quality: int = DEFAULT_MAX_QUALITY, source: Source = "auto") -> Any:
    """A pandas DataFrame; ``wide=True`` pivots to one value column per key, indexed by ts
    (quality and reason are then left out)."""
    _need("pandas")
    df = to_arrow(store, keys, start, end, every, agg, max_quality=max_quality,
                  source=source).to_pandas()
    if wide:
        return df.pivot(index="ts", columns="key", values="value")
    return df


def to_polars(store: TimeSeriesStore, keys: Sequence[str] | None = None,
              start: float | None = None, end: float | None = None,
              every: float | None = None, agg: str = "avg", *,
              max_quality: int = DEFAULT_MAX_QUALITY,
              source: Source = "auto") -> polars.DataFrame:
    """A Polars DataFrame (the long layout above)."""
    pl = _need("polars")
    df = pl.from_arrow(to_arrow(store, keys, start, end, every, agg,
                                max_quality=max_quality, source=source))
    return cast("polars.DataFrame", df)  # from_arrow of a Table is a DataFrame


def to_parquet(store: TimeSeriesStore, path: str | Path, keys: Sequence[str] | None = None,
               start: float | None = None, end: float | None = None,
               every: float | None = None, agg: str = "avg", *,
               max_quality: int = DEFAULT_MAX_QUALITY, source: Source = "auto") -> int:
    """Write a Parquet file (zstd); return the rows written."""
    tbl = to_arrow(store, keys, start, end, every, agg, max_quality=max_quality,
                   source=source)
    pq.write_table(tbl, str(path), compression="zstd")
    return int(tbl.num_rows)


def export(store: TimeSeriesStore, path: str | Path, keys: Sequence[str] | None = None,
           start: float | None = None, end: float | None = None,
           every: float | None = None, agg: str = "avg", *, fmt: str | None = None,
           max_quality: int = DEFAULT_MAX_QUALITY) -> int:
    """Write history to ``path`` as Parquet or CSV (``fmt``, else by suffix); rows written."""
    p = Path(path)
    kind = fmt or FORMATS.get(p.suffix.lower())
    if kind not in ("parquet", "csv"):
        raise InvalidInputError(f"cannot tell the export format of {p.name!r}; use a .parquet "
                                "or .csv file or fmt='parquet'|'csv'")
    if p.parent and not p.parent.is_dir():
        raise InvalidInputError(f"folder {str(p.parent)!r} does not exist")
    if kind == "parquet":
        return to_parquet(store, p, keys, start, end, every, agg, max_quality=max_quality)
    tbl = to_arrow(store, keys, start, end, every, agg, max_quality=max_quality)
    pacsv.write_csv(tbl, str(p))
    return int(tbl.num_rows)


def _need(module: str) -> Any:
    try:
        return __import__(module)
    except ImportError:
        raise InvalidInputError(f"{module} is not installed; install it with "
                                f"`pip install 'processtwin[export]'`") from None
