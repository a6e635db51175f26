"""SQL text shared by the DuckDB and PostgreSQL backends.

Both backends keep the same tables and answer the same queries; a :class:`Dialect` holds the
few expressions that differ. Only validated numbers and point ids are ever formatted into the
SQL text (times as exact timestamp literals, floats by ``repr``), never user strings.

The 1-minute roll-up table (``readings_1m``) has one row per point and minute that holds at
least one raw row, under the default quality filter (good and uncertain, finite):

========== ===============================================================================
column     meaning
========== ===============================================================================
point      point id (``points.id``)
minute     the minute's start (timestamp with time zone)
n_all      rows in the minute; ``n_bad`` those of quality bad; ``n`` those used
sum        sum of the used values (NULL when none); ``min``, ``max`` likewise
first_t/v  time (epoch s) and value of the first used row; ``last_t``/``last_v`` the last
q, r       worst quality and OR of the reason bits of the used rows
twa_int    ∫ value dt held by used rows between the minute's first and last row (value·s)
twa_dur    the seconds that integral covers
fa_t       time of the minute's first row (epoch s); ``la_t``/``la_v``/``la_u``/``la_q``/
           ``la_r`` its last row: time, value, used?, quality, reason
========== ===============================================================================
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from processtwin.store.base import DEFAULT_MAX_QUALITY, QuerySpec

__all__ = ["DUCKDB", "POSTGRES", "ROLLUP_COLUMNS", "Dialect", "Tables"]

ROLLUP_COLUMNS = ("point", "minute", "n_all", "n_bad", "n", "sum", "min", "max", "first_t",
                  "first_v", "last_t", "last_v", "q", "r", "twa_int", "twa_dur", "fa_t",
                  "la_t", "la_v", "la_u", "la_q", "la_r")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ZERO = "CAST(0 AS FLOAT8)"


def ts_lit(us: int) -> str:
    """An exact timestamp-with-time-zone literal for integer microseconds since the epoch."""
    d = _EPOCH + timedelta(microseconds=us)
    return f"'{d.strftime('%Y-%m-%d %H:%M:%S.%f')}+00'::TIMESTAMPTZ"


def num(x: float) -> str:
    """An exact double literal (``inf`` and ``-inf`` included)."""
    if math.isnan(x):
        raise ValueError("NaN is not a bound")
    return f"'{float(x)!r}'::FLOAT8"


@dataclass(frozen=True, slots=True)
class Dialect:
    """The expressions that differ between DuckDB and PostgreSQL."""

    name: str
    epoch: Callable[[str], str]  # timestamp expression -> epoch seconds (double)
    finite: Callable[[str], str]
    minute: Callable[[str], str]  # timestamp expression -> its minute's start
    first: Callable[[str, str, str], str]  # (value, time, filter) -> value at the first time
    last: Callable[[str, str, str], str]
    # (table, columns, time column, ids, condition, newest first) -> one row per point
    neighbour: Callable[[str, Sequence[str], str, Sequence[int], str, bool], str]
    arg_minmax: bool  # has arg_min/arg_max aggregates


def _duck_neighbour(table: str, cols: Sequence[str], tcol: str, ids: Sequence[int],
                    cond: str, newest: bool) -> str:
    fn = "arg_max" if newest else "arg_min"
    sel = ", ".join(f"{fn}({c}, {tcol}) AS {c}" for c in cols)
    return (f"SELECT point, {sel} FROM {table} WHERE point IN ({_ids(ids)}) AND {cond} "
            f"GROUP BY point")


def _pg_neighbour(table: str, cols: Sequence[str], tcol: str, ids: Sequence[int],
                  cond: str, newest: bool) -> str:
    order = "DESC" if newest else "ASC"
    sel = ", ".join(f"x.{c}" for c in cols)
    return (f"SELECT x.point, {sel} FROM unnest(ARRAY[{_ids(ids)}]::int[]) AS p(id) "
            f"CROSS JOIN LATERAL (SELECT point, {', '.join(cols)} FROM {table} "
            f"WHERE point = p.id AND {cond} ORDER BY {tcol} {order} LIMIT 1) x")


DUCKDB = Dialect(
    name="duckdb",
    epoch=lambda c: f"(epoch_us({c}) / 1e6)",
    finite=lambda c: f"isfinite({c})",
    minute=lambda c: f"to_timestamp((epoch_us({c}) // 60000000) * 60)",
    first=lambda v, t, f: f"arg_min({v}, {t}) FILTER (WHERE {f})",
    last=lambda v, t, f: f"arg_max({v}, {t}) FILTER (WHERE {f})",
    neighbour=_duck_neighbour,
    arg_minmax=True,
)

POSTGRES = Dialect(
    name="postgres",
    epoch=lambda c: f"date_part('epoch', {c})",
    finite=lambda c: f"({c} <> 'NaN'::float8 AND abs({c}) < 'Infinity'::float8)",
    minute=lambda c: f"date_trunc('minute', {c})",
    first=lambda v, t, f: f"(array_agg({v} ORDER BY {t}) FILTER (WHERE {f}))[1]",
    last=lambda v, t, f: f"(array_agg({v} ORDER BY {t} DESC) FILTER (WHERE {f}))[1]",
    neighbour=_pg_neighbour,
    arg_minmax=False,
)


def _ids(ids: Sequence[int]) -> str:
    return ", ".join(str(int(i)) for i in ids) or "NULL"


def _range(col: str, spec: QuerySpec) -> str:
    cond = []
    if spec.start_us is not None:
        cond.append(f"{col} >= {ts_lit(spec.start_us)}")
    if spec.end_us is not None:
        cond.append(f"{col} < {ts_lit(spec.end_us)}")
    return " AND ".join(cond) or "TRUE"


@dataclass(frozen=True, slots=True)
class Tables:
    """Fully qualified names of the store's tables, and the dialect to speak."""

    d: Dialect
    readings: str
    rollup: str

    # ------------------------------------------------------------------ raw rows
    def raw(self, ids: Sequence[int], spec: QuerySpec) -> str:
        """Raw rows: (point, t, value, quality, reason) ordered by point and time."""
        return (f"SELECT point, {self.d.epoch('ts')} AS t, value, quality, reason "
                f"FROM {self.readings} WHERE point IN ({_ids(ids)}) AND "
                f"{_range('ts', spec)} ORDER BY point, ts")

    # ------------------------------------------------------------------ aggregates
    def aggregate(self, ids: Sequence[int], spec: QuerySpec) -> str:
        """Buckets: (point, b, v, q, r) ordered by point and bucket."""
        if spec.agg == "twa":
            return self._twa(ids, spec)
        return self._rollup_agg(ids, spec) if spec.rollup else self._raw_agg(ids, spec)

    def _raw_agg(self, ids: Sequence[int], spec: QuerySpec) -> str:
        d, e = self.d, num(spec.every or 0.0)
        val = {
            "avg": "sum(value) FILTER (WHERE u) / nullif(count(*) FILTER (WHERE u), 0)",
            "min": "min(value) FILTER (WHERE u)",
            "max": "max(value) FILTER (WHERE u)",
            "first": d.first("value", "t", "u"),
            "last": d.last("value", "t", "u"),
            "count": "count(*) FILTER (WHERE u)",
            "count_all": "count(*)",
            "count_bad": "count(*) FILTER (WHERE quality = 2)",
        }[spec.agg]
        inner = (f"SELECT point, {d.epoch('ts')} AS t, value, quality, reason, "
                 f"(quality <= {spec.max_quality} AND {d.finite('value')}) AS u "
                 f"FROM {self.readings} WHERE point IN ({_ids(ids)}) AND {_range('ts', spec)}")
        return (f"SELECT point, floor(t / {e}) * {e} AS b, "
                f"coalesce(CAST({val} AS FLOAT8), 'NaN'::FLOAT8) AS v, "
                f"coalesce(max(quality) FILTER (WHERE u), 2) AS q, "
                f"coalesce(bit_or(reason) FILTER (WHERE u), 0) AS r "
                f"FROM ({inner}) s GROUP BY point, b ORDER BY point, b")

    def _rollup_agg(self, ids: Sequence[int], spec: QuerySpec) -> str:
        d, e = self.d, num(spec.every or 0.0)
        val = {
            "avg": "sum(sum) / nullif(sum(n), 0)",
            "min": "min(min)",
            "max": "max(max)",
            "first": d.first("first_v", "first_t", "n > 0"),
            "last": d.last("last_v", "last_t", "n > 0"),
            "count": "sum(n)",
            "count_all": "sum(n_all)",
            "count_bad": "sum(n_bad)",
        }[spec.agg]
        inner = (f"SELECT *, {d.epoch('minute')} AS m FROM {self.rollup} "
                 f"WHERE point IN ({_ids(ids)}) AND {_range('minute', spec)}")
        return (f"SELECT point, floor(m / {e}) * {e} AS b, "
                f"coalesce(CAST({val} AS FLOAT8), 'NaN'::FLOAT8) AS v, "
                f"coalesce(max(q), 2) AS q, coalesce(bit_or(r), 0) AS r "
                f"FROM ({inner}) s GROUP BY point, b ORDER BY point, b")

    def _twa(self, ids: Sequence[int], spec: QuerySpec) -> str:
        d, e = self.d, num(spec.every or 0.0)
        lo, hi = num(spec.start), num(spec.end)
        cols: tuple[str, ...]
        if spec.rollup:
            cols = ("minute", "fa_t", "la_t", "la_v", "la_u", "twa_int", "twa_dur", "q", "r")
            parts = [f"SELECT point, {', '.join(cols)}, TRUE AS inwin FROM {self.rollup} "
                     f"WHERE point IN ({_ids(ids)}) AND {_range('minute', spec)}"]
            if spec.start_us is not None:
                nb = d.neighbour(self.rollup, cols, "minute", ids,
                                 f"minute < {ts_lit(spec.start_us)}", True)
                parts.append(f"SELECT *, FALSE AS inwin FROM ({nb}) pv")
            if spec.end_us is not None:
                nb = d.neighbour(self.rollup, cols, "minute", ids,
                                 f"minute >= {ts_lit(spec.end_us)}", False)
                parts.append(f"SELECT *, FALSE AS inwin FROM ({nb}) nx")
            src = (f"SELECT point, {d.epoch('minute')} AS g, fa_t, la_t, la_v, la_u, "
                   f"twa_int AS own_int, twa_dur AS own_dur, q AS qq, r AS rr, inwin "
                   f"FROM ({' UNION ALL '.join(parts)}) un")
        else:
            cols = ("ts", "value", "quality", "reason")
            parts = [f"SELECT point, {', '.join(cols)}, TRUE AS inwin FROM {self.readings} "
                     f"WHERE point IN ({_ids(ids)}) AND {_range('ts', spec)}"]
            if spec.start_us is not None:
                nb = d.neighbour(self.readings, cols, "ts", ids,
                                 f"ts < {ts_lit(spec.start_us)}", True)
                parts.append(f"SELECT *, FALSE AS inwin FROM ({nb}) pv")
            if spec.end_us is not None:
                nb = d.neighbour(self.readings, cols, "ts", ids,
                                 f"ts >= {ts_lit(spec.end_us)}", False)
                parts.append(f"SELECT *, FALSE AS inwin FROM ({nb}) nx")
            u = f"(quality <= {spec.max_quality} AND {d.finite('value')})"
            src = (f"SELECT point, t AS g, t AS fa_t, t AS la_t, value AS la_v, u AS la_u, "
                   f"{_ZERO} AS own_int, {_ZERO} AS own_dur, CASE WHEN u THEN quality END AS qq, "
                   f"CASE WHEN u THEN reason ELSE 0 END AS rr, inwin FROM ("
                   f"SELECT point, {d.epoch('ts')} AS t, value, quality, reason, inwin, "
                   f"{u} AS u FROM ({' UNION ALL '.join(parts)}) un) s")
        win = (f"SELECT *, floor(g / {e}) * {e} AS b, "
               f"least(floor(g / {e}) * {e} + {e}, {hi}) AS be, "
               f"greatest(floor(g / {e}) * {e}, {lo}) AS bs, "
               f"lead(fa_t) OVER w AS nfa, lag(la_t) OVER w AS pla_t, "
               f"lag(la_v) OVER w AS pla_v, lag(la_u) OVER w AS pla_u "
               f"FROM ({src}) s WINDOW w AS (PARTITION BY point ORDER BY g)")
        out_ok = "la_u AND nfa IS NOT NULL"
        in_ok = "pla_u AND pla_t < bs"
        terms = (f"SELECT point, b, qq, rr, "
                 f"own_int + CASE WHEN {out_ok} THEN la_v * (least(nfa, be) - la_t) "
                 f"ELSE {_ZERO} END + CASE WHEN {in_ok} THEN "
                 f"pla_v * (fa_t - greatest(pla_t, bs)) ELSE {_ZERO} END"
                 f" AS i, "
                 f"own_dur + CASE WHEN {out_ok} THEN least(nfa, be) - la_t ELSE {_ZERO} END"
                 f" + CASE WHEN {in_ok} THEN fa_t - greatest(pla_t, bs) ELSE {_ZERO} END AS dd "
                 f"FROM ({win}) x WHERE inwin")
        return (f"SELECT point, b, CASE WHEN sum(dd) > 0 AND count(qq) > 0 THEN "
                f"CAST(sum(i) / sum(dd) AS FLOAT8) ELSE 'NaN'::FLOAT8 END AS v, "
                f"coalesce(max(qq), 2) AS q, coalesce(bit_or(rr), 0) AS r "
                f"FROM ({terms}) y GROUP BY point, b ORDER BY point, b")

    # ------------------------------------------------------------------ roll-up upkeep
    def rollup_insert(self, ranges: str, lo_us: int, hi_us: int) -> str:
        """Recompute the summaries of every (point, minute) inside ``ranges`` (a FROM item
        with columns point, lo, hi) from the raw rows."""
        d = self.d
        u = f"(r.quality <= {DEFAULT_MAX_QUALITY} AND {d.finite('r.value')})"
        rows = (f"SELECT r.point, {d.minute('r.ts')} AS minute, {d.epoch('r.ts')} AS t, "
                f"r.value, r.quality, r.reason, {u} AS u FROM {self.readings} r "
                f"JOIN {ranges} ON r.point = g.point AND r.ts >= g.lo AND r.ts < g.hi "
                f"WHERE r.ts >= {ts_lit(lo_us)} AND r.ts < {ts_lit(hi_us)}")
        held = "u AND nt IS NOT NULL"
        if d.arg_minmax:  # one sort (for lead); first/last rows by arg_min/arg_max
            win = ("SELECT *, lead(t) OVER (PARTITION BY point, minute ORDER BY t) AS nt "
                   f"FROM ({rows}) s")
            firsts = ("arg_min(value, t) FILTER (WHERE u)", "arg_max(value, t) FILTER (WHERE u)",
                      "arg_max(value, t)", "arg_max(u, t)", "arg_max(quality, t)",
                      "arg_max(reason, t)")
        else:  # the same sort serves lead and the per-minute first/last used times
            win = ("SELECT *, lead(t) OVER w AS nt, min(t) FILTER (WHERE u) OVER p AS fut, "
                   f"max(t) FILTER (WHERE u) OVER p AS lut FROM ({rows}) s "
                   "WINDOW w AS (PARTITION BY point, minute ORDER BY t), "
                   "p AS (PARTITION BY point, minute)")
            firsts = ("max(value) FILTER (WHERE u AND t = fut)",
                      "max(value) FILTER (WHERE u AND t = lut)",
                      "max(value) FILTER (WHERE nt IS NULL)",
                      "bool_or(u) FILTER (WHERE nt IS NULL)",
                      "max(quality) FILTER (WHERE nt IS NULL)",
                      "max(reason) FILTER (WHERE nt IS NULL)")
        return (f"INSERT INTO {self.rollup} ({', '.join(ROLLUP_COLUMNS)}) "
                "SELECT point, minute, count(*), count(*) FILTER (WHERE quality = 2), "
                "count(*) FILTER (WHERE u), sum(value) FILTER (WHERE u), "
                "min(value) FILTER (WHERE u), max(value) FILTER (WHERE u), "
                f"min(t) FILTER (WHERE u), {firsts[0]}, max(t) FILTER (WHERE u), {firsts[1]}, "
                "max(quality) FILTER (WHERE u), bit_or(reason) FILTER (WHERE u), "
                f"coalesce(sum(value * (nt - t)) FILTER (WHERE {held}), {_ZERO}), "
                f"coalesce(sum(nt - t) FILTER (WHERE {held}), {_ZERO}), "
                f"min(t), max(t), {', '.join(firsts[2:])} "
                f"FROM ({win}) w GROUP BY point, minute")

    def rollup_delete(self, ranges: str) -> str:
        return (f"DELETE FROM {self.rollup} USING {ranges} WHERE {self.rollup}.point = g.point "
                f"AND {self.rollup}.minute >= g.lo AND {self.rollup}.minute < g.hi")

    def latest_rollup(self, pid: int) -> str:
        """The last row the roll-up saw of one point: (t, value, quality, reason)."""
        return (f"SELECT la_t AS t, la_v AS value, la_q AS quality, la_r AS reason "
                f"FROM {self.rollup} WHERE point = {int(pid)} ORDER BY minute DESC LIMIT 1")

    def neighbourhood(self, pid: int, start_us: int, end_us: int) -> str:
        """Raw rows of one point in [start, end) plus the row before and the row after."""
        d = self.d
        cols = ("ts", "value", "quality", "reason")
        parts = [f"SELECT point, ts, value, quality, reason FROM {self.readings} "
                 f"WHERE point = {int(pid)} AND ts >= {ts_lit(start_us)} "
                 f"AND ts < {ts_lit(end_us)}",
                 d.neighbour(self.readings, cols, "ts", [pid], f"ts < {ts_lit(start_us)}",
                             True),
                 d.neighbour(self.readings, cols, "ts", [pid], f"ts >= {ts_lit(end_us)}",
                             False)]
        return (f"SELECT {d.epoch('ts')} AS t, value, quality, reason FROM ("
                + " UNION ALL ".join(f"({p})" for p in parts) + ") s ORDER BY ts")
