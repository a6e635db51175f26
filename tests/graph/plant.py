"""Small DTDL v3 models shared by the graph tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

CTX = "dtmi:dtdl:context;3"
EQUIPMENT = "dtmi:test:Equipment;1"
AREA = "dtmi:test:Area;1"
JACKET = "dtmi:test:Jacket;1"
REACTOR = "dtmi:test:Reactor;1"
REACTOR2 = "dtmi:test:Reactor;2"
PUMP = "dtmi:test:Pump;1"


def _prop(name: str, schema: Any) -> dict[str, Any]:
    return {"@type": "Property", "name": name, "schema": schema}


def models() -> list[dict[str, Any]]:
    """Equipment (base), Area, Jacket, Reactor;1 (extends Equipment, has a jacket), Pump."""
    return [
        {"@context": CTX, "@id": AREA, "@type": "Interface",
         "contents": [_prop("name", "string")]},
        {"@context": CTX, "@id": EQUIPMENT, "@type": "Interface", "contents": [
            _prop("tag", "string"),
            {"@type": "Relationship", "name": "feeds", "target": EQUIPMENT,
             "properties": [_prop("since", "dateTime"), _prop("lineSize", "integer")]},
            {"@type": "Relationship", "name": "locatedIn", "target": AREA, "maxMultiplicity": 1},
            {"@type": "Relationship", "name": "relatesTo"},
        ]},
        {"@context": CTX, "@id": JACKET, "@type": "Interface", "contents": [
            _prop("area", "double"),
            {"@type": "Telemetry", "name": "T_K", "schema": "double"},
        ]},
        {"@context": CTX, "@id": REACTOR, "@type": "Interface", "extends": EQUIPMENT,
         "contents": [
             _prop("volume", "double"),
             _prop("mode", {"@type": "Enum", "valueSchema": "string", "enumValues": [
                 {"name": "auto", "enumValue": "auto"}, {"name": "manual", "enumValue": "man"}]}),
             _prop("limits", {"@type": "Object", "fields": [
                 {"name": "lo", "schema": "double"}, {"name": "hi", "schema": "double"}]}),
             _prop("setpoints", {"@type": "Map",
                                 "mapKey": {"name": "loop", "schema": "string"},
                                 "mapValue": {"name": "value", "schema": "double"}}),
             _prop("alarms", {"@type": "Array", "elementSchema": "string"}),
             _prop("location", "point"),
             _prop("batches", "integer"),
             {"@type": "Component", "name": "jacket", "schema": JACKET},
             {"@type": "Telemetry", "name": "T_R", "schema": "double"},
             {"@type": "Command", "name": "start"},
             {"@type": "Relationship", "name": "hasJacketSensor", "target": REACTOR,
              "maxMultiplicity": 2},
         ]},
        {"@context": CTX, "@id": PUMP, "@type": "Interface", "extends": EQUIPMENT,
         "contents": [_prop("rpm", "integer"), _prop("running", "boolean")]},
    ]


def reactor_v2() -> dict[str, Any]:
    """Reactor;2: volume is now an integer, mode and alarms are gone, capacity and a
    renamed ``batchCount`` are new; it does not extend Reactor;1."""
    return {"@context": CTX, "@id": REACTOR2, "@type": "Interface", "extends": EQUIPMENT,
            "contents": [
                _prop("volume", "integer"),
                _prop("capacity", "double"),
                _prop("batchCount", "integer"),
                _prop("limits", {"@type": "Object", "fields": [
                    {"name": "lo", "schema": "double"}, {"name": "hi", "schema": "double"}]}),
                {"@type": "Component", "name": "jacket", "schema": JACKET},
                {"@type": "Telemetry", "name": "T_R", "schema": "double"},
            ]}


def reactor_values(**extra: Any) -> dict[str, Any]:
    """A valid Reactor;1 twin's properties."""
    values: dict[str, Any] = {
        "tag": "R-101", "volume": 10.0, "mode": "auto", "limits": {"lo": 20.0, "hi": 140.0},
        "setpoints": {"TIC101": 120.5}, "alarms": ["HH", "LL"],
        "location": {"type": "Point", "coordinates": [8.5, 47.4]},
        "jacket": {"$metadata": {}, "area": 2.1},
    }
    values.update(extra)
    return values


class FakeClock:
    """A clock that moves one second per call."""

    def __init__(self) -> None:
        self.t = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC).timestamp()

    def __call__(self) -> datetime:
        self.t += 1
        return datetime.fromtimestamp(self.t, UTC)
