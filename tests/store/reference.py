"""A deliberately naive, loop-by-loop model of the store conventions (store/base.py).

Property tests compare every backend with it. It keeps a dict per point, so last-write-wins
and latest-by-source-time are true by construction, and it computes each aggregate from its
definition, not from the formulas the backends use.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable

BAD = 2
IMPUTED = 1 << 7

Row = tuple[float, float, int, int]  # ts, value, quality, reason


class Reference:
    def __init__(self) -> None:
        self.points: dict[int, dict[float, Row]] = {}

    def append(self, rows: Iterable[tuple[int, float, float, int, int]]) -> None:
        for p, t, v, q, r in rows:
            t = round(t * 1e6) / 1e6
            self.points.setdefault(p, {})[t] = (t, v, q, r)

    def rows(self, p: int) -> list[Row]:
        return sorted(self.points.get(p, {}).values())

    def latest(self, p: int) -> Row | None:
        rows = self.rows(p)
        return rows[-1] if rows else None

    def aggregate(self, p: int, every: float, agg: str, start: float = -math.inf,
                  end: float = math.inf, mq: int = 1) -> list[tuple[float, float, int, int]]:
        rows = self.rows(p)

        def used(row: Row) -> bool:
            return row[2] <= mq and math.isfinite(row[1])

        buckets: dict[float, list[Row]] = {}
        for row in rows:
            if start <= row[0] < end:
                buckets.setdefault(math.floor(row[0] / every) * every, []).append(row)
        out = []
        for b in sorted(buckets):
            ok = [row for row in buckets[b] if used(row)]
            vals = [row[1] for row in ok]
            if agg == "count":
                val = float(len(ok))
            elif agg == "count_all":
                val = float(len(buckets[b]))
            elif agg == "count_bad":
                val = float(sum(row[2] == BAD for row in buckets[b]))
            elif not ok:
                val = math.nan
            elif agg == "avg":
                val = math.fsum(vals) / len(vals)
            elif agg == "min":
                val = min(vals)
            elif agg == "max":
                val = max(vals)
            elif agg == "first":
                val = vals[0]
            elif agg == "last":
                val = vals[-1]
            else:  # twa: step hold of each row until the next row of the point
                lo, hi = max(b, start), min(b + every, end)
                num = dur = 0.0
                for row, nxt in itertools.pairwise(rows):
                    a, z = max(row[0], lo), min(nxt[0], hi)
                    if z > a and used(row):
                        num += row[1] * (z - a)
                        dur += z - a
                val = num / dur if dur > 0 else math.nan
            q = max((row[2] for row in ok), default=BAD)
            r = 0
            for row in ok:
                r |= row[3]
            out.append((b, val, q, r))
        return out

    def interpolate(self, p: int, times: list[float], method: str,
                    mq: int = 1) -> list[tuple[float, float, int, int]]:
        rows = self.rows(p)

        def used(row: Row) -> bool:
            return row[2] <= mq and math.isfinite(row[1])

        out = []
        for t in times:
            before = [row for row in rows if row[0] <= t]
            after = [row for row in rows if row[0] > t]
            j = before[-1] if before else None
            k = after[0] if after else None
            if j is None:
                out.append((t, math.nan, BAD, 0))
            elif method == "previous" or j[0] == t:
                if used(j):
                    out.append((t, j[1], j[2], j[3] | (IMPUTED if j[0] != t else 0)))
                else:
                    out.append((t, math.nan, BAD, j[3]))
            elif k is None:
                out.append((t, math.nan, BAD, j[3]))
            elif used(j) and used(k):
                v = j[1] + (k[1] - j[1]) * ((t - j[0]) / (k[0] - j[0]))
                out.append((t, v, max(j[2], k[2]), j[3] | k[3] | IMPUTED))
            else:
                out.append((t, math.nan, BAD, j[3] | k[3]))
        return out
