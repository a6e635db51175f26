"""Sensor drift: a two-sided CUSUM on the residual against a redundant sensor or a model.

For a pair (``sensor``, ``reference``), the residual at each good sample of ``sensor`` is
``r_t = x_sensor(t) − x_reference(t)`` (the reference's newest good sample at or before
``t``), standardised ``z_t = (r_t − μ₀)/σ`` (over blocks, see below). The tabular CUSUM
(Page 1954, *Biometrika* 41:100; Montgomery, *Introduction to Statistical Quality
Control*, 7th ed., §9.1) is::

    C⁺_t = max(0, C⁺_{t−1} + z_t − k)        C⁻_t = max(0, C⁻_{t−1} − z_t − k)

with ``k`` (allowance, half the shift to find fastest) and ``h`` (decision interval) in
units of σ. An alarm is raised when ``C⁺`` or ``C⁻`` rises above ``h``, with the bias
estimate (Montgomery eq. 9.5)::

    μ̂ = μ₀ + σ·(k + C⁺/N⁺)     or     μ̂ = μ₀ − σ·(k + C⁻/N⁻)

where ``N`` counts the samples since that sum was last zero.

**Blocks.** Drift is slow and sensors are fast: a CUSUM on raw 20 Hz samples would see their
autocorrelation as a shift and raise false alarms every few minutes. The residuals are
therefore averaged over blocks of ``block_s`` (default 60 s) and the CUSUM runs on the block
means; σ is the standard deviation *of a block mean*. When not given it is learnt robustly as
``1.4826·MAD`` of the first ``warmup`` block means, which also absorbs the autocorrelation.
With the defaults ``k = 0.5, h = 8`` the two-sided scheme has an in-control average run
length of about 10 500 blocks (a false alarm per pair about once a week at 60 s blocks) and
finds a 1σ shift in about 16 blocks, a 2σ shift in about 6 (Monte Carlo, 40 and 200 runs; the
Siegmund approximation, Montgomery eq. 9.20, gives 9 550 and 16). ``block_s: null`` runs the
CUSUM on every sample (``h = 5`` then gives about 500 samples between false alarms).

**Why CUSUM rather than Page–Hinkley.** Page–Hinkley is the one-sided CUSUM with a running
mean as reference; a drift detector for a sensor pair needs both directions and a bias
estimate in engineering units, which the two-sided tabular CUSUM gives directly with
textbook run-length tables for choosing ``k`` and ``h``.

**Vectorised.** The recursion ``S_t = max(0, S_{t−1} + x_t)`` is Lindley's; with
``C_t = Σ_{j≤t} x_j`` it is ``S_t = C_t − min(−S_0, C_1, …, C_t)``, a cumulative sum and a
running minimum, so a batch costs a few NumPy passes and the carried ``S_0`` makes batch
splits irrelevant.

Only *good* samples enter (outliers, imputed and bad values are left out). The sums are not
reset by an alarm: the alarm stays active while the sum stays above ``h``, and
:meth:`DriftMonitor.reset` starts afresh after recalibration. A pair of two sensors says
*that* they disagree; *which* one moved needs a third opinion (a third sensor or a model):
:meth:`DriftMonitor.suspects` names the points all of whose pairs are in alarm.

Example:
    >>> import numpy as np
    >>> c = Cusum(sigma=1.0, h=5.0)
    >>> events = c.update(np.arange(40.0), np.r_[np.zeros(20), np.full(20, 2.0)])
    >>> [(e.index, e.direction, round(e.bias, 2)) for e in events]
    [(23, 1, 2.0)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from processtwin.core.batch import Batch
from processtwin.core.points import PointTable
from processtwin.core.quality import Quality
from processtwin.errors import InvalidInputError
from processtwin.pipeline.align import Latest, asof_index, point_slices

__all__ = ["Cusum", "CusumEvent", "DriftAlarm", "DriftMonitor", "DriftPairConfig",
           "DriftStatus"]

F64 = npt.NDArray[np.float64]
_MAD_TO_SIGMA = 1.482602218505602


class DriftPairConfig(BaseModel):
    """One monitored pair in ``twin.yaml`` (``quality.drift:`` list)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sensor: str = Field(description="point key under test")
    reference: str = Field(description="redundant sensor or model-prediction point key")
    sigma: float | None = Field(default=None, gt=0,
                                description="std of a block-mean residual (point unit); "
                                            "None: learnt over the warm-up")
    offset: float = Field(default=0.0, description="expected sensor - reference (mu0)")
    k: float = Field(default=0.5, ge=0, description="allowance, in sigmas")
    h: float = Field(default=8.0, gt=0, description="decision interval, in sigmas")
    block_s: float | None = Field(default=60.0, gt=0,
                                  description="average residuals over blocks this long; "
                                              "None: every sample")
    warmup: int = Field(default=60, ge=10, description="blocks used to estimate sigma")
    max_skew_s: float | None = Field(default=None, gt=0,
                                     description="skip samples whose reference is older")
    flag: bool = Field(default=True,
                       description="mark the sensor's values uncertain (drift) while alarmed")

    @model_validator(mode="after")
    def _distinct(self) -> DriftPairConfig:
        if self.sensor == self.reference:
            raise ValueError("sensor and reference must differ")
        return self


@dataclass(frozen=True, slots=True)
class CusumEvent:
    """A rising edge of the CUSUM above ``h`` at sample ``index`` of an update."""

    index: int
    ts: float
    direction: int  # +1: residual went up, -1: down
    bias: float  # estimated mean residual (unit of the residual)
    statistic: float  # C at the alarm, in sigmas
    samples: int  # N: samples since the sum was last zero


@dataclass(frozen=True, slots=True)
class DriftAlarm:
    """A drift found on ``sensor`` against ``reference``: estimated bias (sensor − reference)."""

    sensor: str
    reference: str
    ts: float
    bias: float
    direction: int
    statistic: float
    samples: int
    sigma: float

    def to_dict(self) -> dict[str, object]:
        return {"sensor": self.sensor, "reference": self.reference, "ts": self.ts,
                "bias": self.bias, "direction": self.direction, "statistic": self.statistic,
                "samples": self.samples, "sigma": self.sigma}


@dataclass(frozen=True, slots=True)
class DriftStatus:
    """Where one pair stands now."""

    sensor: str
    reference: str
    active: bool
    bias: float  # current estimate of the mean residual (0 when both sums are zero)
    upper: float  # C+ in sigmas
    lower: float  # C- in sigmas
    sigma: float | None  # None while still warming up


def _lindley(x: F64, s0: float) -> tuple[F64, npt.NDArray[np.bool_]]:
    """``S_t = max(0, S_{t−1} + x_t)`` from ``S_0 = s0``, and where ``S_t`` is zero."""
    c = np.cumsum(x)
    m = np.minimum.accumulate(np.minimum(c, -s0))
    return c - m, c <= m


def _runs(zero: npt.NDArray[np.bool_], n0: int) -> npt.NDArray[np.int64]:
    """Samples since the sum was last zero, continuing a carried count ``n0``."""
    i = np.arange(len(zero))
    last = np.maximum.accumulate(np.where(zero, i, -1))
    return np.where(last >= 0, i - last, n0 + i + 1).astype(np.int64)


class Cusum:
    """A two-sided tabular CUSUM on a residual stream, carried across updates."""

    def __init__(self, *, k: float = 0.5, h: float = 8.0, mu0: float = 0.0,
                 sigma: float | None = None, warmup: int = 60) -> None:
        if sigma is not None and not sigma > 0:
            raise InvalidInputError("sigma must be positive")
        self.k, self.h, self.mu0, self.warmup = k, h, mu0, warmup
        self.sigma = sigma
        self._warm: list[float] = []
        self.above = np.zeros(0, dtype=bool)
        self.reset()

    def reset(self) -> None:
        """Start afresh (after recalibration); a learnt sigma is kept."""
        self.upper = self.lower = 0.0
        self.n_upper = self.n_lower = 0

    @property
    def active(self) -> bool:
        return self.upper > self.h or self.lower > self.h

    def bias(self) -> float:
        """The current bias estimate (μ₀ when neither sum is positive)."""
        s = self.sigma or 0.0
        if self.upper >= self.lower and self.upper > 0:
            return self.mu0 + s * (self.k + self.upper / max(self.n_upper, 1))
        if self.lower > 0:
            return self.mu0 - s * (self.k + self.lower / max(self.n_lower, 1))
        return self.mu0

    def update(self, ts: npt.ArrayLike, residuals: npt.ArrayLike) -> list[CusumEvent]:
        """Feed residuals (NaN are skipped); returns the alarms raised (rising edges).

        Afterwards :attr:`above` marks the residuals after which a sum stood above ``h``.
        """
        t = np.asarray(ts, dtype=np.float64)
        r = np.asarray(residuals, dtype=np.float64)
        if t.shape != r.shape or t.ndim != 1:
            raise InvalidInputError("ts and residuals must be 1-D and of one length")
        self.above = np.zeros(len(r), dtype=bool)
        base = np.flatnonzero(np.isfinite(r))
        if self.sigma is None:
            need = self.warmup - len(self._warm)
            self._warm.extend(r[base[:need]].tolist())
            base = base[need:]
            if len(self._warm) < self.warmup:
                return []
            w = np.asarray(self._warm)
            sig = _MAD_TO_SIGMA * float(np.median(np.abs(w - np.median(w))))
            self.sigma = sig if sig > 0 else max(float(np.std(w)), 1e-12)
        if len(base) == 0:
            return []
        t, z = t[base], (r[base] - self.mu0) / self.sigma
        events: list[CusumEvent] = []
        for direction in (1, -1):
            s0, n0 = (self.upper, self.n_upper) if direction == 1 else (self.lower,
                                                                         self.n_lower)
            s, zero = _lindley(direction * z - self.k, s0)
            n = _runs(zero, n0)
            above = s > self.h
            prev = np.empty_like(above)
            prev[0] = s0 > self.h
            prev[1:] = above[:-1]
            for i in np.flatnonzero(above & ~prev):
                bias = self.mu0 + direction * self.sigma * (self.k + s[i] / n[i])
                events.append(CusumEvent(int(base[i]), float(t[i]), direction, float(bias),
                                         float(s[i]), int(n[i])))
            if direction == 1:
                self.upper, self.n_upper = float(s[-1]), int(n[-1])
            else:
                self.lower, self.n_lower = float(s[-1]), int(n[-1])
            self.above[base] |= above
        events.sort(key=lambda e: e.index)
        return events


class _Block:
    """The residual block still being filled: its index, sum and count."""

    __slots__ = ("count", "index", "total")

    def __init__(self) -> None:
        self.index = -(2**62)
        self.total = 0.0
        self.count = 0


def _blocks(t: F64, r: F64, block_s: float | None, open_: _Block) -> tuple[F64, F64]:
    """Means of the residual blocks completed by samples ``(t, r)`` and their end times.

    Blocks are ``[j·block_s, (j+1)·block_s)``; a block is complete once a sample of a later
    block arrives, the last one stays open in ``open_``. Without ``block_s`` every sample is
    its own block. Late samples (of a block before the open one) count in the open block.
    """
    keep = np.isfinite(r)
    t, r = t[keep], r[keep]
    if block_s is None:
        return t, r
    if len(t) == 0:
        return np.zeros(0), np.zeros(0)
    j = np.maximum(np.floor(t / block_s).astype(np.int64), open_.index)
    j = np.maximum.accumulate(j)
    starts = np.flatnonzero(np.r_[True, j[1:] != j[:-1]])
    sums = np.add.reduceat(r, starts)
    counts = np.diff(np.r_[starts, len(r)]).astype(np.float64)
    ids = j[starts]
    if ids[0] == open_.index:
        sums[0] += open_.total
        counts[0] += open_.count
    elif open_.count:
        sums = np.r_[open_.total, sums]
        counts = np.r_[float(open_.count), counts]
        ids = np.r_[open_.index, ids]
    open_.index, open_.total, open_.count = int(ids[-1]), float(sums[-1]), int(counts[-1])
    done = slice(0, len(ids) - 1)
    return (ids[done] + 1) * block_s, sums[done] / counts[done]


class DriftMonitor:
    """CUSUM drift detection on sensor pairs, fed live from batches or with residuals.

    ``update_batch`` aligns each pair on the sensor's good samples (the reference's newest
    good sample at or before each), ``update`` takes residuals computed elsewhere (a model's
    prediction error, say). Either way residuals are averaged over blocks of ``block_s``
    and the CUSUM runs on the block means.
    """

    def __init__(self, pairs: Sequence[DriftPairConfig], table: PointTable | None = None
                 ) -> None:
        self.pairs = tuple(pairs)
        keys = [(p.sensor, p.reference) for p in self.pairs]
        if len(set(keys)) < len(keys):
            raise InvalidInputError("a drift pair is listed twice")
        self.cusums = {(p.sensor, p.reference): Cusum(k=p.k, h=p.h, mu0=p.offset,
                                                       sigma=p.sigma, warmup=p.warmup)
                       for p in self.pairs}
        self._open = {key: _Block() for key in keys}
        self.table = table
        self._ids: dict[str, int] = {}
        if table is not None:
            for p in self.pairs:
                self._ids[p.sensor] = table.index(p.sensor)
                self._ids[p.reference] = table.index(p.reference)
        self._good = Latest(len(table) if table is not None else 0)

    def _pair(self, sensor: str, reference: str | None) -> DriftPairConfig:
        for p in self.pairs:
            if p.sensor == sensor and (reference is None or p.reference == reference):
                return p
        raise InvalidInputError(f"no drift pair for sensor {sensor!r}")

    def _feed(self, p: DriftPairConfig, t: F64, r: F64) -> tuple[list[DriftAlarm], F64,
                                                                   npt.NDArray[np.bool_]]:
        """Feed residuals of a pair: alarms, completed block end times, alarm after each."""
        key = (p.sensor, p.reference)
        c = self.cusums[key]
        ends, means = _blocks(t, r, p.block_s, self._open[key])
        if len(ends) == 0:
            return [], ends, np.zeros(0, dtype=bool)
        alarms = [DriftAlarm(p.sensor, p.reference, e.ts, e.bias, e.direction, e.statistic,
                             e.samples, float(c.sigma or 0.0)) for e in c.update(ends, means)]
        return alarms, ends, c.above.copy()

    def update(self, sensor: str, ts: npt.ArrayLike, residuals: npt.ArrayLike,
               reference: str | None = None) -> list[DriftAlarm]:
        """Feed residuals (sensor − reference, point unit, ascending ts) of one pair."""
        p = self._pair(sensor, reference)
        t = np.asarray(ts, dtype=np.float64)
        r = np.asarray(residuals, dtype=np.float64)
        if t.shape != r.shape or t.ndim != 1:
            raise InvalidInputError("ts and residuals must be 1-D and of one length")
        return self._feed(p, t, r)[0]

    def update_batch(self, batch: Batch) -> tuple[list[DriftAlarm], npt.NDArray[np.bool_]]:
        """Feed a batch sorted by (point, ts); returns alarms and the rows to flag ``drift``.

        A good row of a pair's sensor (with ``flag`` on) is flagged when that pair is in
        alarm as of the row's time (after the newest block completed by then).
        """
        if self.table is None:
            raise InvalidInputError("update_batch needs the monitor built with a table")
        flags = np.zeros(len(batch), dtype=bool)
        alarms: list[DriftAlarm] = []
        good_rows = np.flatnonzero((batch.quality == Quality.GOOD) & np.isfinite(batch.value))
        good = batch.take(good_rows)
        ids = np.array(sorted(set(self._ids.values())), dtype=np.int32)
        lo, hi = point_slices(good, ids)
        span = {int(i): (int(a), int(b)) for i, a, b in zip(ids, lo, hi, strict=True)}
        for p in self.pairs:
            a0, a1 = span[self._ids[p.sensor]]
            if a1 == a0:
                continue
            b0, b1 = span[self._ids[p.reference]]
            rid = self._ids[p.reference]
            ref_ts = np.concatenate([self._good.ts[rid:rid + 1], good.ts[b0:b1]])
            ref_v = np.concatenate([self._good.value[rid:rid + 1], good.value[b0:b1]])
            t = good.ts[a0:a1]
            idx = asof_index(ref_ts, t)
            at = np.maximum(idx, 0)
            usable = idx >= 0
            if p.max_skew_s is not None:
                usable &= (t - ref_ts[at]) <= p.max_skew_s
            resid = np.where(usable, good.value[a0:a1] - ref_v[at], np.nan)
            was_active = self.cusums[(p.sensor, p.reference)].active
            found, ends, above = self._feed(p, t, resid)
            alarms.extend(found)
            if p.flag:
                k = asof_index(ends, t)
                state = np.where(k >= 0, above[np.maximum(k, 0)] if len(above) else False,
                                 was_active)
                flags[good_rows[a0:a1][state]] = True
        self._good.update(good)
        return alarms, flags

    def reset(self, sensor: str, reference: str | None = None) -> None:
        """Forget the sums of a pair (after the sensor was recalibrated)."""
        p = self._pair(sensor, reference)
        self.cusums[(p.sensor, p.reference)].reset()

    def status(self) -> list[DriftStatus]:
        out = []
        for p in self.pairs:
            c = self.cusums[(p.sensor, p.reference)]
            out.append(DriftStatus(p.sensor, p.reference, c.active, c.bias(), c.upper,
                                   c.lower, c.sigma))
        return out

    def suspects(self) -> list[str]:
        """Points all of whose pairs are in alarm (with a third opinion, the drifted one)."""
        pairs_of: dict[str, list[bool]] = {}
        for p in self.pairs:
            active = self.cusums[(p.sensor, p.reference)].active
            pairs_of.setdefault(p.sensor, []).append(active)
            pairs_of.setdefault(p.reference, []).append(active)
        return sorted(k for k, v in pairs_of.items() if all(v))
