"""Read-only views of a running twin: listing, detail, health and fidelity level.

Fidelity levels: L1 shadow (live data only), L2 statistical (quality-checked history), L3
physics with estimation (a model and an estimator in the loop), L4 hybrid with predictive
control, L5 closed loop. A twin reports the highest level whose parts it actually runs.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from processtwin.control.gate import Mode
from processtwin.core.points import PointKind
from processtwin.core.quality import Quality
from processtwin.errors import NotFoundError
from processtwin.graph.frozen import thaw
from processtwin.runtime.runtime import TwinRuntime

__all__ = ["fidelity", "health", "twin_detail", "twin_list"]

_LEVELS = {1: "L1 shadow", 2: "L2 statistical", 3: "L3 physics + estimation",
           4: "L4 hybrid + predictive control", 5: "L5 closed loop"}
FRESH_S = 5.0


def fidelity(rt: TwinRuntime, twin: str) -> dict[str, Any]:
    tele = [i for i in rt.table.of_twin(twin) if rt.table.spec(i).kind is PointKind.TELEMETRY]
    level, why = 1, "live telemetry only"
    if tele:
        level, why = 2, "quality-checked live data with history"
    est = rt.estimator
    if est is not None and est.cfg.twin == twin and est.initialised:
        article = "a" if est.cfg.kind == "ukf" else "an"
        level, why = 3, (f"{est.model.name} with {article} {est.cfg.kind.upper()} estimating "
                         "unmeasured states")
        if rt.optimizer is not None and rt.gate.mode is Mode.CLOSED:
            why += "; optimiser proposals released in closed mode (no hybrid model/MPC: not L4)"
    if not tele and level < 3:
        level, why = 1, "no telemetry bound: a shadow of the model only"
    return {"level": f"L{level}", "name": _LEVELS[level], "why": why}


def _quality_summary(rt: TwinRuntime, twin: str) -> dict[str, Any] | None:
    """The twin's telemetry over the quality window: mean shares and points in drift."""
    stats = rt.pipeline.stats
    tele = [i for i in rt.table.of_twin(twin) if rt.table.spec(i).kind is PointKind.TELEMETRY]
    if stats is None or not tele:
        return None
    shares = stats.shares(time.time())[tele]
    seen = np.isfinite(shares[:, 0])
    out: dict[str, Any] = {"window_s": stats.window_s}
    for c, name in enumerate(("good", "uncertain", "bad", "imputed")):
        out[name] = float(np.mean(shares[seen, c])) if seen.any() else None
    keys = {rt.table.spec(i).key for i in tele}
    drift = rt.pipeline.drift
    out["drifting"] = sorted(st.sensor for st in (drift.status() if drift else [])
                             if st.active and st.sensor in keys)
    return out


def health(rt: TwinRuntime, twin: str) -> dict[str, Any]:
    now = time.time()
    tele = [i for i in rt.table.of_twin(twin) if rt.table.spec(i).kind is PointKind.TELEMETRY]
    fresh_good = [i for i in tele if rt.state.quality[i] == Quality.GOOD
                  and now - rt.state.ts[i] <= (rt.table.spec(i).max_age_s or FRESH_S)]
    stale = rt.state.age(tele, now) if tele else None
    coverage = len(fresh_good) / len(tele) if tele else None
    out: dict[str, Any] = {
        "sync_latency_s": rt.sync_latency(),
        "staleness_s": stale if stale is None or np.isfinite(stale) else None,
        "sensor_coverage": coverage,
        "model": None,
        "quality": _quality_summary(rt, twin),
    }
    if stale is not None and np.isfinite(stale):
        rt.metrics.staleness.labels(twin).set(stale)
    if coverage is not None:
        rt.metrics.coverage.labels(twin).set(coverage)
    lat = rt.sync_latency()
    if lat is not None:
        rt.metrics.sync_latency.labels(twin).set(lat)
    est = rt.estimator
    if est is not None and est.cfg.twin == twin:
        fits = est.fit()
        out["model"] = {
            "name": est.model.name,
            "estimator": est.cfg.kind,
            "estimates": est.summary(),
            "steps": est.steps,
            "late_measurements": est.filter.late_applied,
            "outputs": {s: {"rmse": f.rmse, "r2": f.r2, "n": f.n} for s, f in fits.items()},
        }
        for s, f in fits.items():
            if f.rmse is not None:
                rt.metrics.model_rmse.labels(twin, s).set(f.rmse)
    return out


def twin_list(rt: TwinRuntime, *, model: str | None = None, after: str | None = None,
              limit: int | None = None) -> list[dict[str, Any]]:
    """Twins of the graph (of ``model`` or a model extending it), ordered by id, the page
    after twin id ``after``."""
    docs = sorted(rt.graph.twins(), key=lambda d: str(d["$dtId"]))
    out = []
    for d in docs:
        tid = str(d["$dtId"])
        if after is not None and tid <= after:
            continue
        if model is not None and not rt.graph.is_of_model(tid, model):
            continue
        out.append({"id": tid, "model": d["$metadata"]["$model"], "etag": d["$etag"],
                    "fidelity": fidelity(rt, tid)})
        if limit is not None and len(out) >= limit:
            break
    return out


def twin_detail(rt: TwinRuntime, twin: str) -> dict[str, Any]:
    doc = rt.graph.twin(twin)
    if doc is None:
        raise NotFoundError(f"no twin {twin!r}")
    telemetry: dict[str, Any] = {}
    estimates: dict[str, Any] = {}
    derived: dict[str, Any] = {}
    for i in rt.table.of_twin(twin):
        ps = rt.table.spec(i)
        pv = rt.state.get(i)
        if ps.kind in (PointKind.TELEMETRY, PointKind.DERIVED):
            d = pv.to_dict()
            d.pop("std")
            d["unit"] = ps.unit
            (telemetry if ps.kind is PointKind.TELEMETRY else derived)[ps.name] = d
        elif ps.kind is PointKind.ESTIMATE and not ps.name.endswith("_std"):
            estimates[ps.name] = {"value": pv.value, "std": pv.std, "ts": pv.ts,
                                  "unit": ps.unit}
    rels = [{"id": r["$relationshipId"], "name": r["$relationshipName"],
             "target": r["$targetId"]} for r in rt.graph.outgoing(twin)]
    props = thaw({k: v for k, v in doc.items() if not k.startswith("$")})
    return {"id": twin, "model": doc["$metadata"]["$model"], "etag": doc["$etag"],
            "properties": props, "relationships": rels, "telemetry": telemetry,
            "estimates": estimates, "derived": derived, "health": health(rt, twin),
            "fidelity": fidelity(rt, twin)}
