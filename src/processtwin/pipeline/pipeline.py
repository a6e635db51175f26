"""The ingest pipeline: quality checks on a batch, dead letters for what is unusable.

A connector hands over a batch and the dead letters of what it could not map or convert. The
pipeline runs the checks of :mod:`processtwin.pipeline.checks`; rows that are NaN from a good
source or out of range also become dead letters (with point, value and reason), while staying
in the batch as *bad* values so that history shows them. Nothing is dropped silently.

With quality parameters (:class:`~processtwin.pipeline.config.QualityParams`, resolved from a
``QualityConfig``) the pipeline goes on, in this order, over the sorted batch:

1. outliers (:mod:`~processtwin.pipeline.outliers`): good values become *uncertain*
   (``outlier``);
2. drift (:mod:`~processtwin.pipeline.drift`, when a monitor is given): the sensor's good
   values become *uncertain* (``drift``) while its pair is in alarm;
3. gaps (:mod:`~processtwin.pipeline.gaps`): reported, and filled with extra *uncertain*
   ``imputed`` rows where configured;
4. derived points (:mod:`~processtwin.pipeline.derived`, when given): extra rows, *bad*
   (``range``) outside the derived point's ``[lo, hi]``, computed from measured rows only
   (imputed rows are made when a gap closes, after the fact; letting them feed derived
   points would make live results depend on how the stream was cut into batches);
5. quality figures (:mod:`~processtwin.pipeline.stats`, when given) count the final batch.

Dead letters and the ``flags`` counter cover measured (and imputed) rows only: a derived row
carries its inputs' reasons, which were already reported on the inputs.

The result stays sorted by (point, ts).

Example:
    >>> from processtwin.core import Batch, PointSpec, PointTable
    >>> p = Pipeline(PointTable([PointSpec(twin="r", name="T", lo=0, hi=200)]))
    >>> res = p.process(Batch.of([0, 0], [1.0, 2.0], [50.0, 900.0]), [])
    >>> res.batch.quality.tolist(), res.dead[0].reason
    ([0, 2], 'range: 900 outside [0, 200]')
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from processtwin.core.batch import Batch, DeadLetter
from processtwin.core.points import PointKind, PointTable
from processtwin.core.quality import Quality, Reason
from processtwin.pipeline.checks import CheckState, apply_checks
from processtwin.pipeline.config import QualityConfig, QualityParams
from processtwin.pipeline.derived import DerivedEngine, DerivedPoint
from processtwin.pipeline.drift import DriftAlarm, DriftMonitor
from processtwin.pipeline.gaps import Gap, GapState, find_gaps
from processtwin.pipeline.outliers import HampelState, hampel_flags
from processtwin.pipeline.stats import QualityStats

__all__ = ["Pipeline", "PipelineResult"]

_UNCERTAIN = np.uint8(Quality.UNCERTAIN)


@dataclass(frozen=True, slots=True)
class PipelineResult:
    batch: Batch
    dead: list[DeadLetter]
    flags: Counter[str] = field(default_factory=Counter)
    gaps: tuple[Gap, ...] = ()
    alarms: tuple[DriftAlarm, ...] = ()


def _mark(q: npt.NDArray[np.uint8], r: npt.NDArray[np.uint32], rows: npt.NDArray[np.intp],
          bit: Reason) -> None:
    """Make ``rows`` at least uncertain, with ``bit`` added to their reasons."""
    q[rows] = np.maximum(q[rows], _UNCERTAIN)
    r[rows] |= np.uint32(bit)


class Pipeline:
    """Runs the checks for one point table and keeps their state between batches.

    Only ``table`` is needed for the basic checks; ``quality`` switches on outliers and
    gaps, ``derived``, ``drift`` and ``stats`` add the rest (see the module docstring).
    """

    def __init__(self, table: PointTable, source: str = "pipeline", *,
                 quality: QualityParams | None = None,
                 derived: Sequence[DerivedPoint] = (),
                 drift: DriftMonitor | None = None,
                 stats: QualityStats | None = None) -> None:
        self.table = table
        self.source = source
        self.state = CheckState(len(table))
        self.quality = quality
        if quality is not None:
            self.hampel = HampelState(len(table), int(max(quality.window, default=3)))
            self.gap_state = GapState(len(table))
        self.derived = DerivedEngine(derived, table) if derived else None
        self._derived = np.array([s.kind == PointKind.DERIVED for s in table], dtype=bool)
        self.drift = drift
        self.stats = stats

    @classmethod
    def from_config(cls, table: PointTable, config: QualityConfig, *,
                    periods: Mapping[str, float] | None = None,
                    derived: Sequence[DerivedPoint] = (),
                    drift: DriftMonitor | None = None, source: str = "pipeline") -> Pipeline:
        """A pipeline with every check of a ``quality:`` section and its quality figures.

        Raises :class:`~processtwin.errors.ConfigError` listing every problem. A drift
        monitor is built from ``config.drift`` unless one is given.
        """
        resolved = config.resolve(table, periods)
        params = resolved if config.enabled else None
        if drift is None and config.drift and config.enabled:
            drift = DriftMonitor(config.drift, table)
        stats = QualityStats(table, config.stats_window_s, config.stats_buckets)
        return cls(table, source, quality=params, derived=derived, drift=drift, stats=stats)

    def _extended(self, out: Batch) -> tuple[Batch, list[Gap], list[DriftAlarm]]:
        q, r = out.quality.copy(), out.reason.copy()
        finite = np.isfinite(out.value)
        gaps: list[Gap] = []
        alarms: list[DriftAlarm] = []
        extra: list[Batch] = []
        p = self.quality
        if p is not None:
            usable = finite & (q != Quality.BAD)
            _mark(q, r, np.flatnonzero(hampel_flags(out, usable, p, self.hampel)),
                  Reason.OUTLIER)
        if self.drift is not None:
            alarms, dflags = self.drift.update_batch(Batch(out.point, out.ts, out.value, q, r))
            _mark(q, r, np.flatnonzero(dflags), Reason.DRIFT)
        out = Batch(out.point, out.ts, out.value, q, r)
        if p is not None:
            bound = finite & (q != Quality.BAD) & ((r & np.uint32(Reason.OUTLIER)) == 0)
            imputed, gaps = find_gaps(out, bound, p, self.gap_state)
            if len(imputed):
                extra.append(imputed)
        if self.derived is not None:  # from measured rows only: imputed ones come late
            d = self.derived.compute(out)
            if len(d):
                bad = np.isfinite(d.value) & ((d.value < self.table.lo[d.point])
                                              | (d.value > self.table.hi[d.point]))
                d.quality[bad] = np.uint8(Quality.BAD)
                d.reason[bad] |= np.uint32(Reason.RANGE)
                extra.append(d)
        if extra:
            out = Batch.concat([out, *extra]).sorted()
        return out, gaps, alarms

    def process(self, batch: Batch, dead: list[DeadLetter]) -> PipelineResult:
        if len(batch) == 0:
            return PipelineResult(batch, list(dead))
        out = apply_checks(batch, self.table, self.state)
        gaps: list[Gap] = []
        alarms: list[DriftAlarm] = []
        if self.quality is not None or self.derived is not None or self.drift is not None:
            out, gaps, alarms = self._extended(out)
        if self.stats is not None:
            self.stats.update(out)
            self.stats.record_gaps(gaps)
            if self.drift is not None:
                self.stats.set_drift(self.drift.status())
        rejected = list(dead)
        measured = ~self._derived[out.point]  # derived rows inherit their inputs' reasons
        bad_rows = np.flatnonzero(
            measured & ((out.reason & np.uint32(Reason.NAN | Reason.RANGE)) != 0)
        )
        for i in bad_rows:  # rare by construction: only invalid rows reach Python
            spec = self.table.spec(int(out.point[i]))
            value = float(out.value[i])
            if int(out.reason[i]) & Reason.NAN:
                why = "nan: value is not finite"
            else:
                why = f"range: {value:g} outside [{spec.lo:g}, {spec.hi:g}]"
            rejected.append(DeadLetter(self.source, spec.key, repr(value), why,
                                       ts=float(out.ts[i]), category=why.split(":")[0]))
        flags: Counter[str] = Counter()
        flagged = (out.quality != Quality.GOOD) & measured
        if flagged.any():
            bits = out.reason[flagged]
            for reason in Reason:
                if reason and reason.name:
                    n = int(np.count_nonzero(bits & np.uint32(reason)))
                    if n:
                        flags[reason.name.lower()] = n
        return PipelineResult(out, rejected, flags, tuple(gaps), tuple(alarms))
