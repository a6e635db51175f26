"""Recordings: long and wide CSV/Parquet, timestamps of every kind, bad rows dead-lettered."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from processtwin.errors import InvalidInputError
from processtwin.replay import load_recording, read_recording

T0 = 1_714_557_600.0  # 2024-05-01T10:00:00Z


def test_long_csv_with_every_timestamp_form_and_quality() -> None:
    text = ("timestamp,tag,value,quality\n"
            "2024-05-01T10:00:02Z,b,3,bad\n"
            "2024-05-01T10:00:00,a,1,good\n"
            f"{(T0 + 1) * 1000:.0f},a,2,1\n"
            f"{T0 + 3},b,,bad\n")
    rec = read_recording(io.StringIO(text), "csv")
    assert rec.tags == ("a", "b")
    assert rec.ts.tolist() == [T0, T0 + 1, T0 + 2, T0 + 3]
    assert rec.value[:3].tolist() == [1.0, 2.0, 3.0]
    assert np.isnan(rec.value[3])
    assert rec.quality.tolist() == [0, 1, 2, 2]
    assert not rec.dead


def test_bad_rows_become_dead_letters_with_their_row() -> None:
    text = "ts,point,value,quality\nnope,a,1,\n1,a,hot,\n2,a,3,weird\n3,a,,\n4,a,5,\n"
    rec = read_recording(io.StringIO(text), "csv")
    assert rec.value.tolist() == [5.0]
    reasons = {d.key: d.reason for d in rec.dead}
    assert reasons == {"a@row2": "timestamp: not a timestamp: 'nope'",
                       "a@row3": "type: not a number: hot",
                       "a@row4": "quality: unknown value 'weird'",
                       "a@row5": "type: no value with good quality"}


def test_wide_parquet_with_datetime_column(tmp_path: Path) -> None:
    df = pd.DataFrame({"Timestamp": pd.to_datetime([T0 + 1, T0], unit="s", utc=True),
                       "CSTR.TT101": [2.0, 1.0], "CSTR.FT101": [np.nan, 7.0]})
    p = tmp_path / "wide.parquet"
    df.to_parquet(p)
    rec = load_recording(p)
    assert rec.ts.tolist() == [T0, T0, T0 + 1]
    assert [rec.tags[i] for i in rec.tag] == ["CSTR.TT101", "CSTR.FT101", "CSTR.TT101"]
    assert rec.value.tolist() == [1.0, 7.0, 2.0]


def test_refuses_unknown_files_and_layouts(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"\.csv or \.parquet"):
        load_recording(tmp_path / "x.json")
    with pytest.raises(InvalidInputError, match="no timestamp column"):
        read_recording(io.StringIO("a,b\n1,2\n"), "csv")


@given(st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from("abc"),
                          st.floats(allow_nan=False, allow_infinity=False, width=32)),
                max_size=40))
def test_any_valid_long_csv_roundtrips_in_stable_time_order(
        rows: list[tuple[int, str, float]]) -> None:
    text = "timestamp,tag,value\n" + "".join(f"{T0 + t / 1000!r},{g},{v!r}\n"
                                              for t, g, v in rows)
    rec = read_recording(io.StringIO(text), "csv")
    want = sorted(((T0 + t / 1000, g, float(v)) for t, g, v in rows), key=lambda r: r[0])
    got = [(t, rec.tags[i], v) for i, t, v in zip(rec.tag.tolist(), rec.ts.tolist(),
                                                  rec.value.tolist(), strict=True)]
    assert got == want
    assert not rec.dead


@given(st.text(max_size=80))
def test_garbage_csv_never_crashes(text: str) -> None:
    try:
        rec = read_recording(io.StringIO("timestamp,tag,value\n" + text), "csv")
    except (InvalidInputError, ValueError, pd.errors.ParserError):
        return
    assert len(rec) + len(rec.dead) >= 0
