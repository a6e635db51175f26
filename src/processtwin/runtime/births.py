"""Sparkplug births are authoritative: each NBIRTH/DBIRTH creates or updates a twin.

:class:`BirthTwins` is the runtime's ``on_birth``. For a birth it

1. appends a telemetry point for every numeric metric the table does not hold yet (unit,
   ``engLow``/``engHigh`` as range, the source's ``max_age_s``), grows the live state,
   rebuilds the ingest pipeline for the longer table and registers the points with the
   store: all before the host decodes any data of that device;
2. adds the twin to the twin graph when it is missing, of the source's
   ``node_model``/``device_model`` when that model is loaded and accepts the twin, else of
   the generic :data:`GENERIC_MODEL` (added to the graph on first use).

A point once created keeps its index and spec (the table is append-only); a rebirth with a
changed unit or range is logged. Deaths need nothing here: the host marks the node's or
device's points bad (``comm``, ``stale``).

Rebuilding the pipeline restarts its per-point check state (rate of change, flatline,
Hampel window, gap tracking, quality figures). It happens only when a birth brings points
the table did not hold, which is rare after the first birth of each device.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from processtwin.connectors.sparkplug.registry import BirthMetric
from processtwin.core.points import PointKind, PointSpec
from processtwin.errors import InvalidInputError, TwinValidationError
from processtwin.pipeline.pipeline import Pipeline
from processtwin.runtime.config import SparkplugSourceConfig, sampling_periods

if TYPE_CHECKING:
    from processtwin.runtime.runtime import TwinRuntime

__all__ = ["GENERIC_MODEL", "GENERIC_MODEL_DOC", "BirthTwins"]

_log = logging.getLogger(__name__)

#: The model of a born twin when its source names none (or one the graph does not hold).
GENERIC_MODEL = "dtmi:processtwin:sparkplug:Device;1"
GENERIC_MODEL_DOC: dict[str, Any] = {
    "@context": "dtmi:dtdl:context;3", "@id": GENERIC_MODEL, "@type": "Interface",
    "displayName": "Sparkplug B node or device",
    "description": "A twin created from a Sparkplug B birth; its points are the birth's "
                   "numeric metrics.",
    "contents": []}


def point_spec(m: BirthMetric, max_age_s: float | None) -> PointSpec:
    """The point a numeric birth metric becomes."""
    lo = m.lo if m.lo is not None else float("-inf")
    hi = m.hi if m.hi is not None else float("inf")
    if lo > hi:
        lo, hi = float("-inf"), float("inf")
    return PointSpec(twin=m.twin, name=m.point, unit=m.unit, kind=PointKind.TELEMETRY,
                     lo=lo, hi=hi, max_age_s=max_age_s,
                     description=f"Sparkplug metric {m.name!r} ({m.datatype})")


class BirthTwins:
    """The runtime's ``on_birth``: births become twins and points (see module docs)."""

    def __init__(self, rt: TwinRuntime) -> None:
        self.rt = rt
        self.births = 0

    async def __call__(self, device_key: str, metrics: tuple[BirthMetric, ...], *,
                      source: SparkplugSourceConfig) -> None:
        rt = self.rt
        self.births += 1
        twin = source.twin_id(device_key)
        new: list[PointSpec] = []
        for m in metrics:
            if not m.numeric:
                continue
            spec = point_spec(m, source.max_age_s)
            idx = rt.table.get(m.key)
            if idx is None:
                new.append(spec)
            elif (old := rt.table.spec(idx)).unit != spec.unit or (old.lo, old.hi) != (
                    spec.lo, spec.hi):
                _log.warning("%s: birth of %s declares %s as %s [%g, %g], the point keeps "
                             "%s [%g, %g]", source.name, device_key, m.key, spec.unit,
                             spec.lo, spec.hi, old.unit, old.lo, old.hi)
        if new:
            self._add_points(new)
            await asyncio.to_thread(rt.store.register, rt.table)
        model = await asyncio.to_thread(self._ensure_twin, twin, source.model_for(device_key))
        event = {"type": "birth", "source": source.name, "device": device_key, "twin": twin,
                 "model": model, "new_points": [s.name for s in new]}
        rt.events.append(event)
        rt._publish(event)
        _log.info("%s: birth of %s → twin %s (%s), %d new points", source.name, device_key,
                  twin, model, len(new))

    def _add_points(self, specs: list[PointSpec]) -> None:
        """Append the points and grow everything that holds a column per point, with no
        await in between (no batch can see the longer table before the pipeline)."""
        rt = self.rt
        rt.table.extend(specs)
        rt.state.grow()
        rt.pipeline = Pipeline.from_config(rt.table, rt.cfg.quality,
                                           periods=sampling_periods(rt.cfg),
                                           derived=list(rt.derived.values()))

    def _ensure_twin(self, twin: str, model: str | None) -> str:
        """Create the twin when the graph lacks it; return its model."""
        g = self.rt.graph
        doc = g.twin(twin)
        if doc is not None:
            return str(doc["$metadata"]["$model"])
        if model is not None:
            if model in g.list_models():
                try:
                    g.create_twin(twin, model, if_none_match=True)
                    return model
                except (TwinValidationError, InvalidInputError) as exc:
                    _log.warning("born twin %s does not fit %s (%s): generic model used",
                                 twin, model, exc)
            else:
                _log.warning("born twin %s: model %s is not loaded: generic model used",
                             twin, model)
        if GENERIC_MODEL not in g.list_models():
            g.add_models([GENERIC_MODEL_DOC])
        g.create_twin(twin, GENERIC_MODEL, if_none_match=True)
        return GENERIC_MODEL
