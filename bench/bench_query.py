"""Twin query latency on a plant-like graph (100k twins, 300k relationships; quick: 10k/30k).

The graph: areas that contain (``contains``) reactors, tanks, pumps, heat exchangers and
sensors; equipment that ``feeds`` equipment nearby (process lines with recycles); sensors
that ``measures`` equipment. Models inherit (Reactor, Tank → Vessel → Asset; Pump,
HeatExchanger, Sensor → Asset). It is loaded through ``TwinGraph.bulk_import`` (validated
against the DTDL models) when :mod:`processtwin.graph.graph` is importable, else into the
query package's ``MemoryGraph``.

Measured in the same run, timing ``run_query(graph, text).rows`` end to end:

1. ``match3``: ``MATCH (a)-[*1..3]->(b) WHERE a.$dtId = '<id>'`` from 200 different equipment
   twins, repeated; goal p50 < 10 ms. Baseline: networkx ``single_source_shortest_path_length``
   with ``cutoff=3`` (reachability only, no documents, no paths) on a ``DiGraph`` of the same
   edges.
2. ``scan``: ``SELECT T FROM DIGITALTWINS T WHERE T.temperature > 100 AND IS_OF_MODEL(T,
   'dtmi:bench:Vessel;1')``; goal p50 < 200 ms. Baseline: a bare list comprehension over the
   same documents with the model set precomputed.

Flat keys: ``*_p50_ms``, ``*_p99_ms``, ``*_baseline_*_p50_ms``, and ``*_ratio`` = our p50 /
baseline p50 (lower is better, 1.0 is parity). The ``results`` list for ``ptwin bench query``
uses the runner's convention instead: ratio = baseline / ours (higher is better).
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import networkx as nx  # type: ignore[import-untyped]
import numpy as np

from processtwin.graph.query import MemoryGraph, run_query
from processtwin.graph.types import GraphView

CTX = "dtmi:dtdl:context;3"
P = "dtmi:bench:"
ASSET, AREA, VESSEL = P + "Asset;1", P + "Area;1", P + "Vessel;1"
REACTOR, TANK, PUMP = P + "Reactor;1", P + "Tank;1", P + "Pump;1"
HX, SENSOR = P + "HeatExchanger;1", P + "Sensor;1"
EQUIPMENT_MIX = [(REACTOR, 0.10), (TANK, 0.15), (PUMP, 0.20), (HX, 0.14)]  # rest: sensors
EXTENDS = {VESSEL: [ASSET], REACTOR: [VESSEL], TANK: [VESSEL], PUMP: [ASSET], HX: [ASSET],
           SENSOR: [ASSET]}


def _prop(name: str, schema: str) -> dict[str, Any]:
    return {"@type": "Property", "name": name, "schema": schema}


def models() -> list[dict[str, Any]]:
    """The DTDL v3 interfaces of the benchmark plant."""
    def iface(dtmi: str, contents: list[dict[str, Any]]) -> dict[str, Any]:
        doc: dict[str, Any] = {"@context": CTX, "@id": dtmi, "@type": "Interface",
                               "contents": contents}
        if dtmi in EXTENDS:
            doc["extends"] = EXTENDS[dtmi]
        return doc
    return [
        iface(ASSET, [_prop("tag", "string"), _prop("temperature", "double"),
                      {"@type": "Relationship", "name": "feeds", "target": ASSET}]),
        iface(AREA, [_prop("name", "string"),
                     {"@type": "Relationship", "name": "contains"}]),
        iface(VESSEL, [_prop("volume", "double")]),
        iface(REACTOR, [_prop("pressure", "double")]),
        iface(TANK, []),
        iface(PUMP, [_prop("rpm", "integer")]),
        iface(HX, [_prop("duty", "double")]),
        iface(SENSOR, [{"@type": "Relationship", "name": "measures", "target": ASSET}]),
    ]


def plant(n_twins: int, n_rels: int, seed: int = 7) -> tuple[list[dict[str, Any]],
                                                             list[dict[str, Any]]]:
    """Twin and relationship documents (export shape) of a plant of about that size."""
    rng = random.Random(seed)
    n_areas = max(1, n_twins // 100)
    twins: list[dict[str, Any]] = []
    equipment: list[str] = []
    sensors: list[str] = []
    for i in range(n_areas):
        twins.append({"$dtId": f"area{i}", "$metadata": {"$model": AREA}, "name": f"Area {i}"})
    for i in range(n_twins - n_areas):
        x, model = rng.random(), SENSOR
        for m, share in EQUIPMENT_MIX:
            if x < share:
                model = m
                break
            x -= share
        dt_id = f"{model.split(':')[2].split(';')[0].lower()}{i}"
        doc: dict[str, Any] = {"$dtId": dt_id, "$metadata": {"$model": model}}
        if model != SENSOR:
            doc["tag"] = dt_id.upper()
            if rng.random() < 0.8:
                doc["temperature"] = round(rng.uniform(20.0, 180.0), 1)
            equipment.append(dt_id)
        else:
            sensors.append(dt_id)
        twins.append(doc)
    rels: list[dict[str, Any]] = []

    def rel(src: str, name: str, tgt: str) -> None:
        rels.append({"$relationshipId": f"r{len(rels)}", "$sourceId": src, "$targetId": tgt,
                     "$relationshipName": name})

    for i in range(1, n_areas):
        rel(f"area{rng.randrange(i)}", "contains", f"area{i}")
    for doc in twins[n_areas:]:
        rel(f"area{rng.randrange(n_areas)}", "contains", doc["$dtId"])
    for s in sensors:
        rel(s, "measures", equipment[rng.randrange(len(equipment))])
    n_eq = len(equipment)
    while len(rels) < n_rels:  # process lines: mostly downstream, some recycles
        i = rng.randrange(n_eq)
        j = min(n_eq - 1, max(0, i + rng.randint(-5, 40)))
        if i != j:
            rel(equipment[i], "feeds", equipment[j])
    return twins, rels


def build(twins: list[dict[str, Any]], rels: list[dict[str, Any]]) -> tuple[GraphView, str]:
    """Load into a TwinGraph when there is one, else a MemoryGraph; return it and its kind."""
    try:
        from processtwin.graph import graph as twin_graph
    except ImportError:
        twin_graph = None  # type: ignore[assignment]
    cls = getattr(twin_graph, "TwinGraph", None)
    if cls is not None and hasattr(cls, "bulk_import"):
        g = cls()
        g.bulk_import(models=models(), twins=twins, relationships=rels)
        return g, "TwinGraph.bulk_import"
    mg = MemoryGraph(extends=EXTENDS)
    for t in twins:
        mg.put_twin(t)
    for r in rels:
        mg.put_relationship(r)
    return mg, "MemoryGraph"


def _times(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def _ms(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q)) * 1e3


def run(quick: bool = False) -> dict[str, Any]:
    n_twins, n_rels = (10_000, 30_000) if quick else (100_000, 300_000)
    rounds, scan_repeats = (3, 11) if quick else (5, 21)
    twins, rels = plant(n_twins, n_rels)
    t0 = time.perf_counter()
    graph, backend = build(twins, rels)
    build_s = time.perf_counter() - t0

    # 1. anchored 3-hop MATCH, from 200 equipment twins
    rng = random.Random(11)
    equipment = [t["$dtId"] for t in twins if "tag" in t]
    anchors = rng.sample(equipment, 200)
    digraph = nx.DiGraph()
    digraph.add_nodes_from(t["$dtId"] for t in twins)
    digraph.add_edges_from((r["$sourceId"], r["$targetId"]) for r in rels)
    ours: list[float] = []
    base: list[float] = []
    paths = reach = 0
    for _ in range(rounds):
        for a in anchors:
            q = f"SELECT a, b FROM DIGITALTWINS MATCH (a)-[*1..3]->(b) WHERE a.$dtId = '{a}'"
            t = time.perf_counter()
            rows = run_query(graph, q).rows
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            found = nx.single_source_shortest_path_length(digraph, a, cutoff=3)
            base.append(time.perf_counter() - t)
            paths += len(rows)
            reach += len(found) - 1
    runs = rounds * len(anchors)

    # 2. filtered full scan
    docs = list(graph.twins())
    vessels = {VESSEL, REACTOR, TANK}
    scan_q = (f"SELECT T FROM DIGITALTWINS T WHERE T.temperature > 100 "
              f"AND IS_OF_MODEL(T, '{VESSEL}')")

    def baseline_scan() -> list[dict[str, Any]]:
        return [{"T": d} for d in docs if d["$metadata"]["$model"] in vessels
                and isinstance(x := d.get("temperature"), int | float) and x > 100]

    n_ours, n_base = len(run_query(graph, scan_q).rows), len(baseline_scan())
    if n_ours != n_base:
        raise RuntimeError(f"scan disagrees with the baseline: {n_ours} != {n_base} rows")
    scan = _times(lambda: run_query(graph, scan_q).rows, scan_repeats)
    scan_base = _times(baseline_scan, scan_repeats)

    m50, b50 = _ms(ours, 50), _ms(base, 50)
    s50, sb50 = _ms(scan, 50), _ms(scan_base, 50)
    flat: dict[str, Any] = {
        "graph_backend": backend, "twins": len(twins), "relationships": len(rels),
        "build_s": round(build_s, 2), "networkx_version": nx.__version__,
        "match3_queries": runs, "match3_mean_rows": paths / runs,
        "match3_mean_reachable_twins": reach / runs,
        "match3_p50_ms": m50, "match3_p99_ms": _ms(ours, 99),
        "match3_baseline_networkx_p50_ms": b50, "match3_baseline_networkx_p99_ms": _ms(base, 99),
        "match3_ratio": m50 / b50, "match3_goal_p50_ms": 10.0,
        "scan_rows": n_ours, "scan_repeats": scan_repeats,
        "scan_p50_ms": s50, "scan_p99_ms": _ms(scan, 99),
        "scan_baseline_listcomp_p50_ms": sb50, "scan_baseline_listcomp_p99_ms": _ms(scan_base, 99),
        "scan_ratio": s50 / sb50, "scan_goal_p50_ms": 200.0,
    }
    results = [
        {"name": "anchored 3-hop MATCH, p50", "value": m50, "unit": "ms",
         "baseline": f"networkx {nx.__version__} BFS cutoff=3, p50", "baseline_value": b50,
         "ratio": b50 / m50},
        {"name": "anchored 3-hop MATCH, p99", "value": flat["match3_p99_ms"], "unit": "ms",
         "baseline": "networkx BFS cutoff=3, p99",
         "baseline_value": flat["match3_baseline_networkx_p99_ms"],
         "ratio": flat["match3_baseline_networkx_p99_ms"] / flat["match3_p99_ms"]},
        {"name": "filtered scan (temperature, IS_OF_MODEL), p50", "value": s50, "unit": "ms",
         "baseline": "list comprehension, p50", "baseline_value": sb50, "ratio": sb50 / s50},
        {"name": "filtered scan, p99", "value": flat["scan_p99_ms"], "unit": "ms",
         "baseline": "list comprehension, p99",
         "baseline_value": flat["scan_baseline_listcomp_p99_ms"],
         "ratio": flat["scan_baseline_listcomp_p99_ms"] / flat["scan_p99_ms"]},
    ]
    notes = [
        f"{len(twins)} twins, {len(rels)} relationships, loaded by {backend} in "
        f"{build_s:.1f} s",
        f"match3: {runs} queries from {len(anchors)} anchors; {paths / runs:.1f} paths "
        f"(rows) per query on average, {reach / runs:.1f} distinct twins reachable",
        f"scan: {n_ours} rows of {len(docs)} twins, {scan_repeats} repeats; "
        f"stdev {statistics.pstdev(scan) * 1e3:.1f} ms",
        "flat *_ratio keys = ours / baseline (lower is better); results ratio = baseline / ours",
    ]
    return {"bench": "query", **flat, "results": results, "notes": notes}
