"""A small process plant, built the same way into a MemoryGraph and a TwinGraph.

::

    site ─contains→ area1 ─contains→ r1, r2, p1, p2, s1, s2
         ─contains→ area2 ─contains→ tk1
    p1 ─feeds(50)→ r1 ─feeds(80)→ r2 ─feeds(65)→ p2 ─feeds(25)→ r1   (a recycle loop)
    r2 ─feeds(40)→ tk1
    s1 ─measures→ r1,  s2 ─measures→ r2

Live values: r1.T_R = 120, r2.T_R = 141, p2.temperature = 60 (p2's document has none).
"""

from __future__ import annotations

from typing import Any

from processtwin.graph.query import MemoryGraph
from processtwin.graph.types import GraphView

CTX = "dtmi:dtdl:context;3"
EQUIPMENT = "dtmi:plant:Equipment;1"
AREA = "dtmi:plant:Area;1"
REACTOR = "dtmi:plant:Reactor;1"
PUMP = "dtmi:plant:Pump;1"
TANK = "dtmi:plant:Tank;1"
SENSOR = "dtmi:plant:Sensor;1"
EXTENDS = {REACTOR: [EQUIPMENT], PUMP: [EQUIPMENT], TANK: [EQUIPMENT]}


def _p(name: str, schema: Any) -> dict[str, Any]:
    return {"@type": "Property", "name": name, "schema": schema}


def models() -> list[dict[str, Any]]:
    def iface(dtmi: str, contents: list[dict[str, Any]]) -> dict[str, Any]:
        doc: dict[str, Any] = {"@context": CTX, "@id": dtmi, "@type": "Interface",
                               "contents": contents}
        if dtmi in EXTENDS:
            doc["extends"] = EXTENDS[dtmi]
        return doc
    return [
        iface(AREA, [_p("name", "string"), {"@type": "Relationship", "name": "contains"}]),
        iface(EQUIPMENT, [_p("tag", "string"), _p("temperature", "double"),
                          _p("status", "string"),
                          {"@type": "Relationship", "name": "feeds", "target": EQUIPMENT,
                           "properties": [_p("lineSize", "integer")]}]),
        iface(REACTOR, [_p("volume", "double"), _p("alarms", {"@type": "Array",
                                                              "elementSchema": "string"}),
                        _p("limits", {"@type": "Object", "fields": [
                            {"name": "lo", "schema": "double"},
                            {"name": "hi", "schema": "double"}]}),
                        {"@type": "Telemetry", "name": "T_R", "schema": "double"}]),
        iface(PUMP, [_p("rpm", "integer"), _p("running", "boolean")]),
        iface(TANK, [_p("level", "double")]),
        iface(SENSOR, [_p("kind", "string"),
                       {"@type": "Relationship", "name": "measures", "target": EQUIPMENT}]),
    ]


def twins() -> list[dict[str, Any]]:
    def t(dt_id: str, model: str, **props: Any) -> dict[str, Any]:
        return {"$dtId": dt_id, "$metadata": {"$model": model}, **props}
    return [
        t("site", AREA, name="Site"),
        t("area1", AREA, name="Unit 100"),
        t("area2", AREA, name="Tank farm"),
        t("r1", REACTOR, tag="R-101", temperature=150.0, status="running", volume=10.0,
          alarms=["HH", "LL"], limits={"lo": 20.0, "hi": 160.0}),
        t("r2", REACTOR, tag="R-102", temperature=90.0, status="idle", volume=12.5,
          alarms=[]),
        t("p1", PUMP, tag="P-101", temperature=45.0, rpm=1450, running=True),
        t("p2", PUMP, tag="P-102", rpm=0, running=False),
        t("tk1", TANK, tag="TK-1", level=3.5, temperature=30.0),
        t("s1", SENSOR, kind="TT"),
        t("s2", SENSOR, kind="PT"),
    ]


def relationships() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def r(src: str, name: str, tgt: str, **props: Any) -> None:
        out.append({"$relationshipId": f"{name}-{src}-{tgt}", "$sourceId": src,
                    "$targetId": tgt, "$relationshipName": name, **props})
    r("site", "contains", "area1")
    r("site", "contains", "area2")
    for x in ("r1", "r2", "p1", "p2", "s1", "s2"):
        r("area1", "contains", x)
    r("area2", "contains", "tk1")
    r("p1", "feeds", "r1", lineSize=50)
    r("r1", "feeds", "r2", lineSize=80)
    r("r2", "feeds", "p2", lineSize=65)
    r("p2", "feeds", "r1", lineSize=25)
    r("r2", "feeds", "tk1", lineSize=40)
    r("s1", "measures", "r1")
    r("s2", "measures", "r2")
    return out


LIVE = {("r1", "T_R"): 120.0, ("r2", "T_R"): 141.0, ("p2", "temperature"): 60.0}


def memory_plant() -> MemoryGraph:
    g = MemoryGraph(extends=EXTENDS)
    for t in twins():
        g.put_twin(t)
    for r in relationships():
        g.put_relationship(r)
    for (dt_id, name), value in LIVE.items():
        g.set_live(dt_id, name, value)
    return g


def twin_graph_plant() -> GraphView:
    from processtwin.graph.graph import TwinGraph

    g = TwinGraph(live=lambda dt_id, name: LIVE.get((dt_id, name)))
    g.bulk_import(models=models(), twins=twins(), relationships=relationships())
    return g
