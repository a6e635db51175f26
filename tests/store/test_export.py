"""Export to Arrow, pandas, Polars, Parquet and CSV from any store."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from processtwin.core import Batch, Quality, Reason
from processtwin.errors import InvalidInputError
from processtwin.store import TimeSeriesStore
from processtwin.store.export import export, to_arrow, to_pandas, to_parquet, to_polars

D = 1_700_006_400.0


@pytest.fixture
def filled(store: TimeSeriesStore) -> TimeSeriesStore:
    store.append(Batch.of([0, 1, 0, 1], [D, D, D + 90, D + 30], [1.0, 2.0, math.nan, 4.0],
                          [0, 0, Quality.BAD, Quality.UNCERTAIN],
                          [0, 0, Reason.NAN, Reason.SOURCE]))
    return store


def test_arrow_is_long_and_keeps_quality(filled: TimeSeriesStore) -> None:
    t = to_arrow(filled)
    assert t.schema.names == ["key", "ts", "value", "quality", "reason"]
    assert t.column("key").to_pylist() == ["r.a", "r.a", "r.b", "r.b"]
    assert [x.timestamp() for x in t.column("ts").to_pylist()] == [D, D + 90, D, D + 30]
    assert t.column("quality").to_pylist() == [0, 2, 0, 1]
    assert t.column("reason").to_pylist() == [0, int(Reason.NAN), 0, int(Reason.SOURCE)]
    assert to_arrow(filled, ["r.c"]).num_rows == 0


def test_pandas_long_and_wide(filled: TimeSeriesStore) -> None:
    df = to_pandas(filled, every=60.0, agg="avg")
    assert df["key"].tolist() == ["r.a", "r.a", "r.b"]
    assert np.isnan(df["value"][1]) and df["quality"].tolist() == [0, 2, 1]
    wide = to_pandas(filled, every=60.0, wide=True)
    assert list(wide.columns) == ["r.a", "r.b"]
    assert wide["r.b"].iloc[0] == 3.0 and str(wide.index.dtype).startswith("datetime64")


def test_polars(filled: TimeSeriesStore) -> None:
    df = to_polars(filled, ["r.b"])
    assert df.columns == ["key", "ts", "value", "quality", "reason"]
    assert df["value"].to_list() == [2.0, 4.0] and str(df["ts"].dtype.time_zone) == "UTC"


def test_files_by_suffix(filled: TimeSeriesStore, tmp_path: Path) -> None:
    assert export(filled, tmp_path / "h.parquet") == 4
    back, want = pq.read_table(tmp_path / "h.parquet"), to_arrow(filled)
    assert back.schema == want.schema
    assert back.drop_columns(["value"]).equals(want.drop_columns(["value"]))
    np.testing.assert_array_equal(back.column("value"), want.column("value"))  # NaN == NaN
    assert export(filled, tmp_path / "h.csv", every=60.0, agg="count") == 3
    csv = pacsv.read_csv(tmp_path / "h.csv")
    assert csv.column("value").to_pylist() == [1.0, 0.0, 2.0]
    assert to_parquet(filled, tmp_path / "b.pq", ["r.b"], start=D + 1) == 1
    with pytest.raises(InvalidInputError):
        export(filled, tmp_path / "h.xlsx")
    with pytest.raises(InvalidInputError):
        export(filled, tmp_path / "nowhere" / "h.csv")
