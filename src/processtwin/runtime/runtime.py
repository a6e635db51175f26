"""The twin runtime: wires a twin.yaml into a running twin (asyncio).

One data path: connectors → :meth:`TwinRuntime.ingest` (pipeline checks → live state → store
buffer) → estimator → optimiser → gate → connector write. Only
:meth:`TwinRuntime._execute` writes to the plant, and only what
:meth:`~processtwin.control.gate.CommandGate.release` returned for a released verdict.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from processtwin.connectors.base import Connector
from processtwin.connectors.simulator.plant import PlantConfig, SimulatedPlant
from processtwin.connectors.simulator.server import PlantServer
from processtwin.control.audit import AuditLog
from processtwin.control.gate import (
    CommandGate,
    CommandRequest,
    GateConfig,
    GateContext,
    InputLimit,
    Verdict,
)
from processtwin.core.batch import Batch, DeadLetter
from processtwin.core.points import PointKind, PointSpec, PointTable
from processtwin.core.quality import Quality, describe
from processtwin.core.state import LiveState
from processtwin.errors import (
    CommandRefusedError,
    ConnectorError,
    InvalidInputError,
    NotFoundError,
    UnknownPointError,
)
from processtwin.graph.graph import TwinGraph
from processtwin.optimization.steady import SetpointConfig, SetpointOptimizer
from processtwin.pipeline.align import Series as AlignSeries
from processtwin.pipeline.derived import compile_derived, derived_specs, recompute
from processtwin.pipeline.pipeline import Pipeline
from processtwin.pipeline.reconcile import BalanceConfig
from processtwin.runtime.births import BirthTwins
from processtwin.runtime.bus_link import BusLink, store_spec
from processtwin.runtime.config import TwinFile, model_files, sampling_periods, source_points
from processtwin.runtime.estimator import EstimatorService
from processtwin.runtime.metrics import Metrics
from processtwin.runtime.sources import SIMULATOR_URL as SIMULATOR_URL  # re-exported
from processtwin.runtime.sources import build_connectors
from processtwin.store import BufferedStore, open_store
from processtwin.store.base import Series as StoreSeries
from processtwin.store.base import TimeSeriesStore
from processtwin.whatif.models import WhatIfRequest, WhatIfResult

__all__ = ["Proposal", "TwinRuntime", "build_point_table", "free_port"]

_log = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def build_point_table(cfg: TwinFile) -> PointTable:
    specs = [
        PointSpec(twin=b.twin, name=b.point, unit=b.unit, kind=PointKind.TELEMETRY, lo=b.lo,
                  hi=b.hi, max_roc=b.max_roc, flatline_s=b.flatline_s, max_age_s=b.max_age_s,
                  description=b.description)
        for s in cfg.sources for b in source_points(s)
    ]
    if cfg.estimator:
        from processtwin.physics.cstr import van_de_vusse

        model = van_de_vusse()
        units = {v.name: v.unit for v in (*model.states, *model.params)}
        for state, pname in cfg.estimator.estimate_points().items():
            specs.append(PointSpec(twin=cfg.estimator.twin, name=pname, unit=units[state],
                                   kind=PointKind.ESTIMATE, description=f"estimate of {state}"))
            specs.append(PointSpec(twin=cfg.estimator.twin, name=f"{pname}_std",
                                   unit=units[state], kind=PointKind.ESTIMATE,
                                   description=f"standard deviation of the {state} estimate"))
    specs.extend(derived_specs(cfg.derived))
    return PointTable(specs)


@dataclass
class Proposal:
    """An optimiser (or person's) request with its latest verdict and fate."""

    request: CommandRequest
    verdict: Verdict
    predicted: dict[str, float] = field(default_factory=dict)
    status: str = "pending"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.request.id, "twin": self.request.twin,
                "created": self.request.created, "origin": self.request.origin,
                "inputs": dict(self.request.inputs), "predicted": self.predicted,
                "status": self.status, "verdict": self.verdict.to_dict()}


class TwinRuntime:
    """Runs one twin.yaml: sources, pipeline, state, store, estimator, optimiser, gate."""

    def __init__(self, cfg: TwinFile, *, store: TimeSeriesStore | None = None,
                 data_dir: str | Path | None = None) -> None:
        self.cfg = cfg
        base = Path(cfg.base_dir)
        self.data_dir = Path(data_dir) if data_dir else (base / cfg.data_dir)
        self.table = build_point_table(cfg)
        self.state = LiveState(self.table)
        self.derived = {d.key: d for d in compile_derived(cfg.derived, self.table)}
        self.pipeline = Pipeline.from_config(
            self.table, cfg.quality, periods=sampling_periods(cfg),
            derived=list(self.derived.values()))
        self.metrics = Metrics()
        self.store = store if store is not None else open_store(store_spec(cfg),
                                                                 self.data_dir)
        self.store.register(self.table)
        self.audit = AuditLog(self.data_dir / "audit.jsonl")
        self.graph = TwinGraph(None if cfg.store.kind == "memory"
                               else self.data_dir / "graph.sqlite", live=self.live_value)
        self._seed_graph()
        self.gate = CommandGate(GateConfig(
            mode=cfg.gate.mode, max_staleness_s=cfg.gate.max_staleness_s,
            limits={n: InputLimit(lo=lim.lo, hi=lim.hi, max_step=lim.max_step,
                                  min_interval_s=lim.min_interval_s)
                    for n, lim in cfg.gate.limits.items()}))
        self.estimator = (EstimatorService(cfg.estimator, self.table)
                          if cfg.estimator else None)
        self.optimizer: SetpointOptimizer | None = None
        if cfg.optimizer and self.estimator:
            lims = cfg.gate.limits
            self.optimizer = SetpointOptimizer(self.estimator.model, SetpointConfig(
                output=cfg.optimizer.output,
                bounds={n: (lims[n].lo, lims[n].hi) for n in self.estimator.model.input_names},
                max_step={n: lims[n].max_step for n in self.estimator.model.input_names},
                state_max=cfg.optimizer.state_max), params=cfg.estimator.params
                if cfg.estimator else None)
        self.target = cfg.optimizer.target if cfg.optimizer else None
        self.proposals: dict[str, Proposal] = {}
        self.plant_server: PlantServer | None = None
        self.connectors: list[Connector] = []
        self._writers: dict[tuple[str, str], Connector] = {}
        self._last_write: dict[str, float] = {}
        self._last_written: dict[str, float] = {}
        self._pending: list[Batch] = []
        self._flush_lock = asyncio.Lock()
        self.bus: BusLink | None = BusLink(self) if cfg.bus.kind == "jetstream" else None
        self._tasks: list[asyncio.Task[Any]] = []
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self._latency: deque[float] = deque(maxlen=2000)
        self.counts = {"ingested": 0, "rejected": 0, "flagged": 0, "stored": 0,
                       "proposals": 0, "commands_applied": 0, "commands_refused": 0}
        self.started_at = time.time()
        self.events: deque[dict[str, Any]] = deque(maxlen=1000)
        self.reconciliations: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------ twin graph
    def _seed_graph(self) -> None:
        """Add twin.yaml's models, twins and relationships the graph does not hold yet.

        The graph file keeps what the API changed since; twin.yaml only seeds what is
        missing, in one atomic import (a problem refuses all of it, with every reason).
        """
        cfg = self.cfg
        known = set(self.graph.list_models())
        docs: list[Any] = []
        for path in model_files(cfg):
            doc = json.loads(path.read_text(encoding="utf-8-sig"))
            items = doc if isinstance(doc, list) else [doc]
            docs.extend(d for d in items if isinstance(d, dict) and d.get("@id") not in known)
        twins = [{"$dtId": t.id, "$metadata": {"$model": t.model}, **t.properties}
                 for t in cfg.twins if self.graph.twin(t.id) is None]
        new_ids = {t["$dtId"] for t in twins}
        rels = [{"$relationshipId": f"{r.name}-{r.target}", "$sourceId": r.source,
                 "$targetId": r.target, "$relationshipName": r.name}
                for r in cfg.relationships if r.source in new_ids]
        if docs or twins or rels:
            self.graph.bulk_import(models=docs, twins=twins, relationships=rels)

    def live_value(self, twin: str, name: str) -> float | None:
        """The newest value of a twin's point (telemetry or estimate); None when unknown or
        when the value is BAD."""
        idx = self.table.get(f"{twin}.{name}")
        if idx is None or self.state.quality[idx] == Quality.BAD:
            return None
        v = float(self.state.value[idx])
        return v if np.isfinite(v) else None

    def query(self, text: str, *, limit: int = 1000,
              continuation: str | None = None) -> dict[str, Any]:
        """Run a twin-graph query (live telemetry readable as properties)."""
        from processtwin.graph.query import run_query

        res = run_query(self.graph, text, limit=limit, continuation=continuation)
        out: dict[str, Any] = res.to_dict()
        return out

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self.audit.append("runtime", {"event": "start", "name": self.cfg.name,
                                      "mode": self.gate.mode.value})
        sim = self.cfg.simulator
        sim_url = None
        if sim.enabled:
            port = sim.port or free_port(sim.host)
            plant = SimulatedPlant(PlantConfig(seed=sim.seed, time_scale=sim.time_scale,
                                               fault_rate_per_h=sim.fault_rate_per_h,
                                               true_params=sim.true_params))
            self.plant_server = PlantServer(plant, host=sim.host, port=port, tick_s=sim.tick_s)
            await self.plant_server.start()
            sim_url = self.plant_server.url
        births = BirthTwins(self)  # Sparkplug births create or update twins and points
        sink = await self.bus.start() if self.bus else self.ingest  # twin.yaml's bus:
        for s, conn in build_connectors(self.cfg, self.table, sim_url=sim_url,
                                        on_birth=births):
            await conn.start(sink)
            self.connectors.append(conn)
            for w in s.writes:
                self._writers[(w.twin, w.input)] = conn
        self._tasks.append(asyncio.create_task(self._store_loop(), name="store-writer"))
        if self.estimator:
            self._tasks.append(asyncio.create_task(self._estimate_loop(), name="estimator"))
        if self.optimizer:
            self._tasks.append(asyncio.create_task(self._optimize_loop(), name="optimizer"))
        for bal in self.cfg.balances:
            self._tasks.append(asyncio.create_task(self._reconcile_loop(bal),
                                                   name=f"reconcile-{bal.name}"))

    async def stop(self) -> None:
        if self.bus:  # before the store loop goes: a commit in hand may await its flush
            await self.bus.stop_consuming()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks.clear()
        for c in self.connectors:
            await c.stop()
        self.connectors.clear()
        if self.bus:
            await self.bus.stop()  # disconnects the publisher the connectors fed
        if self.plant_server:
            await self.plant_server.stop()
            self.plant_server = None
        await self.flush()
        self.audit.append("runtime", {"event": "stop", "counts": dict(self.counts)})
        await asyncio.to_thread(self.store.close)
        self.graph.close()

    # ------------------------------------------------------------------ data path
    async def ingest(self, batch: Batch, dead: list[DeadLetter]) -> None:
        """The sink every connector feeds: check, update state, buffer for the store."""
        now = time.time()
        res = self.pipeline.process(batch, dead)
        if res.dead:
            self._dead_letters(res.dead)
        for reason, n in res.flags.items():
            self.metrics.flags.labels(reason).inc(n)
            self.counts["flagged"] += n
        for gap in res.gaps:
            key = self.table.spec(gap.point).key
            self.metrics.gaps.labels(key).inc()
            _log.info("gap in %s: %.3f s without samples (%d rows imputed)", key,
                      gap.end - gap.start, gap.imputed)
        for alarm in res.alarms:
            _log.warning("sensor drift: %s", alarm.to_dict())
            self.events.append({"type": "drift", **alarm.to_dict()})
            self._publish({"type": "drift", **alarm.to_dict()})
        b = res.batch
        if len(b) == 0:
            return
        changed = self.state.apply(b, now, presorted=True)  # the pipeline sorted it
        self._pending.append(b)
        self.counts["ingested"] += len(b)
        self.metrics.ingested.labels("plant").inc(len(b))
        lat = now - b.ts[b.quality != Quality.BAD]
        if len(lat):
            self._latency.extend(lat[-50:].tolist())
        self._publish_points(changed, "telemetry")

    def _dead_letters(self, items: list[DeadLetter]) -> None:
        for d in items:
            self.metrics.rejected.labels(d.category).inc()
            _log.debug("dead letter: %s %s: %s", d.key, d.value, d.reason)
        self.counts["rejected"] += len(items)
        self.store.append_dead(items)

    async def _store_loop(self) -> None:
        sc = self.cfg.store
        loop = asyncio.get_running_loop()
        next_rollup = loop.time() + sc.rollup_interval_s
        next_retain = loop.time() + sc.retention_interval_s
        while True:
            await asyncio.sleep(sc.flush_interval_s)
            if self._pending:
                await self.flush()
            elif isinstance(self.store, BufferedStore):
                await self._store_call("flush", self.store.flush)  # deliver a backlog
            if isinstance(self.store, BufferedStore):
                st = self.store.stats()
                self.metrics.store_buffered.set(st.buffered_rows)
                self.metrics.store_available.set(float(st.available))
                self.metrics.store_dropped.set(st.dropped_rows)
            now = loop.time()
            if now >= next_rollup:
                next_rollup = now + sc.rollup_interval_s
                await self._store_call("rollup", self.store.rollup)
            if now >= next_retain:
                next_retain = now + sc.retention_interval_s
                await self._store_call("retention", self.store.retain)

    async def _store_call(self, what: str, fn: Any) -> None:
        """A store housekeeping call in a thread; a failure is logged, never fatal."""
        try:
            await asyncio.to_thread(fn)
        except Exception as exc:  # the twin keeps running; the next round retries
            _log.warning("store %s failed: %s", what, exc)

    async def flush(self) -> bool:
        """Commit the buffered rows to the store now; True once every row buffered before
        the call is committed (also by a flush already under way)."""
        async with self._flush_lock:
            if not self._pending:
                return True
            batch = Batch.concat(self._pending)
            self._pending = []
            t0 = time.perf_counter()
            try:
                n = await asyncio.to_thread(self.store.append, batch)
            except Exception:
                _log.exception("store append failed; %d rows kept for retry", len(batch))
                self._pending.insert(0, batch)
                return False
            self.metrics.store_seconds.observe(time.perf_counter() - t0)
            self.metrics.stored.inc(n)
            self.counts["stored"] += n
            return True

    def reconcile(self, bal: BalanceConfig) -> dict[str, Any] | None:
        """Reconcile a balance on the newest good values; None while a stream has none."""
        idx = [self.table.index(k) for k in bal.measured.values()]
        if any(self.state.quality[i] == Quality.BAD or not np.isfinite(self.state.value[i])
               for i in idx):
            return None
        x = np.array([self.state.value[i] for i in idx])
        res = bal.balance().serial_elimination(x, bal.sigmas(), bal.alpha)
        first = bal.balance().reconcile(x, bal.sigmas(), bal.alpha)
        names = list(bal.measured)
        out = {"balance": bal.name, "ts": time.time(), "dof": first.dof,
               "gamma": first.gamma, "gamma_critical": first.gamma_critical,
               "p_value": first.p_value, "gross_error": first.gross_error,
               "measured": dict(zip(names, x.tolist(), strict=True)),
               "reconciled": {**dict(zip(res.final.unmeasured, res.final.u_hat.tolist(),
                                         strict=True)),
                              **dict(zip(res.final.names, res.final.x_hat.tolist(),
                                         strict=True))},
               "gross_errors": [{"sensor": bal.measured.get(e.name, e.name), "stream": e.name,
                                 "bias": e.bias} for e in res.errors]}
        self.reconciliations[bal.name] = out
        self.metrics.reconciliation_gamma.labels(bal.name).set(first.gamma)
        named = {e.name for e in res.errors}
        for n in names:
            self.metrics.gross_errors.labels(bal.name, bal.measured[n]).set(float(n in named))
        return out

    async def _reconcile_loop(self, bal: BalanceConfig) -> None:
        while True:
            await asyncio.sleep(bal.period_s)
            try:
                out = self.reconcile(bal)
            except Exception:  # a numerical failure must not stop the twin
                _log.exception("reconciliation of %s failed", bal.name)
                continue
            if out is not None:
                self._publish({"type": "reconciliation", **out})

    def recompute_derived(self, key: str, start: float | None, end: float | None,
                          every: float | None) -> StoreSeries:
        """A derived point recomputed now from its inputs' stored history (any range, also
        before the point was defined); on a grid of ``every`` seconds when given."""
        dp = self.derived.get(key)
        if dp is None:
            raise InvalidInputError(f"{key} is not a derived point")
        series = {}
        for src in dp.sources:
            raw = self.store.query(src, start, end, None, max_quality=Quality.BAD)
            series[src] = AlignSeries(raw.ts, raw.value, raw.quality, raw.reason)
        grid = None
        if every is not None:
            lo = start if start is not None else min(
                (float(x.ts[0]) for x in series.values() if len(x)), default=0.0)
            hi = end if end is not None else max(
                (float(x.ts[-1]) for x in series.values() if len(x)), default=lo)
            if (hi - lo) / every > 1_000_000:
                raise InvalidInputError("that grid would exceed 1,000,000 points")
            grid = np.arange(lo, hi, every)
        out = recompute(dp, series, grid)
        return StoreSeries(out.ts, out.value, out.quality, out.reason)

    def quality_report(self, twin: str | None = None) -> list[dict[str, Any]]:
        """Per point: shares of good/uncertain/bad/imputed values, last problem, drift."""
        stats = self.pipeline.stats
        if stats is None:
            return []
        now = time.time()
        pts = self.table.of_twin(twin) if twin is not None else None
        out = [pq.to_dict() for pq in stats.snapshot(now, pts)]
        shares = stats.shares(now)
        for i, spec in enumerate(self.table):
            for c, name in enumerate(("good", "uncertain", "bad", "imputed")):
                v = shares[i, c]
                if np.isfinite(v):
                    self.metrics.quality_share.labels(spec.key, name).set(float(v))
        if self.pipeline.drift is not None:
            for st in self.pipeline.drift.status():
                self.metrics.drift_active.labels(st.sensor, st.reference).set(float(st.active))
                self.metrics.drift_bias.labels(st.sensor, st.reference).set(st.bias)
        return out

    async def _estimate_loop(self) -> None:
        est = self.estimator
        if est is None:
            return
        while True:
            await asyncio.sleep(est.cfg.period_s)
            now = time.time()
            try:
                out = est.step(self.state, now)
            except Exception:  # one bad step must not stop estimation for good
                _log.exception("estimator step failed")
                continue
            if out is None:
                continue
            batch, std = out
            self.state.apply(batch, now, std=std)
            self._pending.append(batch)
            self.metrics.estimates.labels(est.cfg.twin).inc()
            self._publish_points(np.fromiter(est.est_idx.values(), np.int32), "estimates")

    async def _optimize_loop(self) -> None:
        cfg = self.cfg.optimizer
        if cfg is None:
            return
        await asyncio.sleep(min(cfg.period_s, 3.0))
        while True:
            try:
                await self.propose()
            except Exception:
                _log.exception("optimiser failed")
            await asyncio.sleep(cfg.period_s)

    # ------------------------------------------------------------------ analytics
    async def propose(self) -> Proposal | None:
        """Run the optimiser once and put its proposal through the gate."""
        est, opt, cfg = self.estimator, self.optimizer, self.cfg.optimizer
        if est is None or opt is None or cfg is None or not est.initialised:
            return None
        if self.target is None:
            return None
        u_now = np.array([self._current_input(n) for n in est.model.input_names])
        iy = est.model.state_names.index(cfg.output)
        prop = await asyncio.to_thread(opt.propose, self.target, u_now, est.x_model,
                                       float(est.x_model[iy]))
        if not prop.ok:
            _log.warning("optimiser: %s", prop.status)
            return None
        req = CommandRequest(twin=cfg.twin, inputs=dict(prop.inputs),
                             origin="optimizer", note=f"hold {cfg.output} at {self.target}")
        verdict = self.gate.evaluate(req, self._context(cfg.twin))
        p = Proposal(req, verdict, predicted=prop.predicted, status=verdict.outcome)
        self.proposals[req.id] = p
        self._trim_proposals()
        self.counts["proposals"] += 1
        self.metrics.proposals.inc()
        self._record(p, verdict, None)
        if verdict.released:
            await self._execute(p, verdict)
        return p

    async def whatif(self, twin: str, request: WhatIfRequest) -> WhatIfResult:
        """Fork ``twin`` now (estimate, covariance, inputs) and run a Monte Carlo what-if."""
        from processtwin.whatif.live import whatif_live

        return await whatif_live(self, twin, request)

    def _trim_proposals(self, keep: int = 200) -> None:
        while len(self.proposals) > keep:
            self.proposals.pop(next(iter(self.proposals)))

    def _current_input(self, name: str) -> float:
        if name in self._last_written:
            return self._last_written[name]
        est = self.estimator
        if est is not None and name in est.model.input_names:
            return est.current_input(self.state, name)
        return float("nan")

    def _context(self, twin: str) -> GateContext:
        now = time.time()
        tele = [i for i in self.table.of_twin(twin)
                if self.table.spec(i).kind is PointKind.TELEMETRY] or [
                    i for i, s in enumerate(self.table.specs) if s.kind is PointKind.TELEMETRY]
        good = [i for i in tele if self.state.quality[i] != Quality.BAD]
        return GateContext(now=now, data_age_s=self.state.age(good, now),
                           current={n: self._current_input(n) for n in self.cfg.gate.limits},
                           last_write=dict(self._last_write))

    # ------------------------------------------------------------------ commands
    def _record(self, p: Proposal, v: Verdict, user: str | None) -> None:
        self.metrics.verdicts.labels(v.outcome).inc()
        entry = self.audit.append("verdict", {"request": p.request.to_dict(),
                                              "verdict": v.to_dict(), "user": user})
        self._publish({"type": "proposal", "proposal": p.to_dict()})
        self._publish({"type": "audit", "entry": entry})
        if v.outcome == "refused":
            self.counts["commands_refused"] += 1

    async def _execute(self, p: Proposal, v: Verdict) -> None:
        """Write a released verdict to the plant. The only plant-write path."""
        for w in self.gate.release(v):
            conn = self._writers.get((w.twin, w.name))
            if conn is None:
                raise InvalidInputError(f"no write binding for {w.twin}.{w.name}")
            try:
                await conn.write(w)
            except ConnectorError as exc:
                self.metrics.write_errors.inc()
                p.status = "failed"
                entry = self.audit.append("write_failed", {"verdict": v.id, "input": w.name,
                                                           "value": w.value, "error": str(exc)})
                self._publish({"type": "audit", "entry": entry})
                raise
            self._last_write[w.name] = time.time()
            self._last_written[w.name] = w.value
            self.metrics.writes.inc()
            self.counts["commands_applied"] += 1
        p.status = "applied"
        entry = self.audit.append("applied", {"verdict": v.id, "request": p.request.id,
                                              "inputs": dict(v.inputs),
                                              "predicted": p.predicted})
        self._publish({"type": "audit", "entry": entry})
        self._publish({"type": "proposal", "proposal": p.to_dict()})

    async def approve(self, proposal_id: str, user: str) -> Proposal:
        """A person approves a pending proposal; the gate re-checks it now."""
        p = self.proposals.get(proposal_id)
        if p is None:
            raise NotFoundError(f"no proposal {proposal_id!r}")
        if p.status != "pending":
            raise InvalidInputError(f"proposal {proposal_id} is {p.status}, not pending")
        v = self.gate.evaluate(p.request, self._context(p.request.twin), approved_by=user)
        p.verdict, p.status = v, v.outcome
        self._record(p, v, user)
        if v.released:
            await self._execute(p, v)
        elif v.outcome == "refused":
            raise CommandRefusedError(v)
        return p

    async def command(self, twin: str, name: str, value: float, user: str) -> Proposal:
        """A person's direct command; it passes the gate like any proposal."""
        if twin not in {t.id for t in self.cfg.twins}:
            raise NotFoundError(f"no twin {twin!r}")
        if (twin, name) not in self._writers:
            have = sorted(n for t, n in self._writers if t == twin)
            raise NotFoundError(f"twin {twin!r} has no command {name!r} (has: {have})")
        req = CommandRequest(twin=twin, inputs={name: value}, origin=f"user:{user}")
        v = self.gate.evaluate(req, self._context(twin), approved_by=user)
        p = Proposal(req, v, status=v.outcome)
        self.proposals[req.id] = p
        self._record(p, v, user)
        if v.released:
            await self._execute(p, v)
        else:
            raise CommandRefusedError(v)
        return p

    # ------------------------------------------------------------------ views
    def subscribe(self, maxsize: int = 256) -> asyncio.Queue[dict[str, Any]]:
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=maxsize)
        self._subscribers.add(q)
        self.metrics.ws_clients.set(len(self._subscribers))
        return q

    def unsubscribe(self, q: asyncio.Queue[dict[str, Any]]) -> None:
        self._subscribers.discard(q)
        self.metrics.ws_clients.set(len(self._subscribers))

    def _publish(self, event: dict[str, Any]) -> None:
        for q in list(self._subscribers):
            try:
                q.put_nowait(event)
            except asyncio.QueueFull:  # a slow client never slows ingest: drop it
                self._subscribers.discard(q)
                self.metrics.ws_dropped.inc()
                with contextlib.suppress(asyncio.QueueFull):
                    q.get_nowait()
                    q.put_nowait({"type": "dropped", "reason": "client too slow"})

    def _publish_points(self, idxs: np.ndarray[Any, Any], kind: str) -> None:
        if not self._subscribers or len(idxs) == 0:
            return
        by_twin: dict[str, dict[str, list[Any]]] = {}
        for i in np.unique(idxs):
            spec = self.table.spec(int(i))
            pv = self.state.get(int(i))
            row: list[Any] = [pv.ts, pv.value, describe(pv.quality, pv.reason)]
            if kind == "estimates":
                row = [pv.ts, pv.value, pv.std]
            by_twin.setdefault(spec.twin, {})[spec.name] = row
        for twin, pts in by_twin.items():
            self._publish({"type": kind, "twin": twin, "points": pts})

    def point_key(self, twin: str, point: str) -> str:
        key = f"{twin}.{point}"
        if key not in self.table:
            raise UnknownPointError(f"twin {twin!r} has no point {point!r}")
        return key

    def sync_latency(self) -> float | None:
        return float(np.median(self._latency)) if self._latency else None
