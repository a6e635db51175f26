"""The ingest pipeline: quality checks on a batch, dead letters for what is unusable.

A connector hands over a batch and the dead letters of what it could not map or convert. The
pipeline runs the checks of :mod:`processtwin.pipeline.checks`; rows that are NaN from a good
source or out of range also become dead letters (with point, value and reason), while staying
in the batch as *bad* values so that history shows them. Nothing is dropped silently.

Example:
    >>> from processtwin.core import Batch, PointSpec, PointTable
    >>> p = Pipeline(PointTable([PointSpec(twin="r", name="T", lo=0, hi=200)]))
    >>> res = p.process(Batch.of([0, 0], [1.0, 2.0], [50.0, 900.0]), [])
    >>> res.batch.quality.tolist(), res.dead[0].reason
    ([0, 2], 'range: 900 outside [0, 200]')
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from processtwin.core.batch import Batch, DeadLetter
from processtwin.core.points import PointTable
from processtwin.core.quality import Quality, Reason
from processtwin.pipeline.checks import CheckState, apply_checks

__all__ = ["Pipeline", "PipelineResult"]


@dataclass(frozen=True, slots=True)
class PipelineResult:
    batch: Batch
    dead: list[DeadLetter]
    flags: Counter[str] = field(default_factory=Counter)


class Pipeline:
    """Runs the checks for one point table and keeps their state between batches."""

    def __init__(self, table: PointTable, source: str = "pipeline") -> None:
        self.table = table
        self.source = source
        self.state = CheckState(len(table))

    def process(self, batch: Batch, dead: list[DeadLetter]) -> PipelineResult:
        if len(batch) == 0:
            return PipelineResult(batch, list(dead))
        out = apply_checks(batch, self.table, self.state)
        rejected = list(dead)
        bad_rows = np.flatnonzero(
            (out.reason & np.uint32(Reason.NAN | Reason.RANGE)) != 0
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
        flagged = out.quality != Quality.GOOD
        if flagged.any():
            bits = out.reason[flagged]
            for reason in Reason:
                if reason and reason.name:
                    n = int(np.count_nonzero(bits & np.uint32(reason)))
                    if n:
                        flags[reason.name.lower()] = n
        return PipelineResult(out, rejected, flags)
