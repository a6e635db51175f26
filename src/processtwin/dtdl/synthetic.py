"""A generated plant ontology: many DTDL v3 Interfaces that extend each other across files.

Used by the tests and by ``ptwin bench dtdl`` to show that a real-sized folder of models
(RealEstateCore and ISA-95 ontologies hold a few hundred Interfaces) loads quickly.

    >>> docs = ontology(20)
    >>> len(docs)
    20
    >>> docs[3]["extends"]
    'dtmi:synth:plant:Equipment0;1'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["ontology", "write_ontology"]

_UNITS = [("Temperature", "degreeCelsius"), ("Pressure", "kilopascal"),
          ("VolumeFlowRate", "litrePerSecond"), ("Power", "kilowatt")]


_CONTEXT = ["dtmi:dtdl:context;3", "dtmi:dtdl:extension:quantitativeTypes;1"]


def _dtmi(i: int) -> str:
    return f"dtmi:synth:plant:Equipment{i};1"


def ontology(n: int, *, depth: int = 8, fanout: int = 3) -> list[dict[str, Any]]:
    """``n`` Interfaces: a forest of ``extends`` chains (at most ``depth`` deep, within
    DTDL's limit of 10), each with properties, unit-typed telemetry, a command, a
    relationship targeting another Interface and, every fifth, a component.
    """
    docs: list[dict[str, Any]] = []
    level = [0] * n
    for i in range(n):
        parent = (i - 1) // fanout if i else None
        if parent is not None and level[parent] + 1 >= depth:
            parent = None
        level[i] = 0 if parent is None else level[parent] + 1
        semantic, unit = _UNITS[i % len(_UNITS)]
        contents: list[dict[str, Any]] = [
            {"@type": "Property", "name": f"tag{i}", "schema": "string"},
            {"@type": "Property", "name": f"rating{i}", "schema": "double", "writable": True},
            {"@type": ["Telemetry", semantic], "name": f"pv{i}", "schema": "double",
             "unit": unit},
            {"@type": "Property", "name": f"mode{i}", "schema": {
                "@type": "Enum", "valueSchema": "string",
                "enumValues": [{"name": "auto", "enumValue": "A"},
                               {"name": "manual", "enumValue": "M"}]}},
            {"@type": "Command", "name": f"reset{i}",
             "request": {"name": "reason", "schema": "string"}},
            {"@type": "Relationship", "name": f"feeds{i}", "target": _dtmi((i * 7) % n),
             "maxMultiplicity": 4,
             "properties": [{"@type": "Property", "name": "since", "schema": "dateTime"}]},
        ]
        if i % 5 == 4:
            contents.append({"@type": "Component", "name": f"part{i}",
                             "schema": _dtmi((i * 3) % max(1, i))})
        doc: dict[str, Any] = {"@context": _CONTEXT, "@id": _dtmi(i),
                               "@type": "Interface", "displayName": f"Equipment {i}",
                               "contents": contents}
        if parent is not None:
            doc["extends"] = _dtmi(parent)
        docs.append(doc)
    return docs


def write_ontology(folder: Path, n: int, **kwargs: Any) -> list[Path]:
    """Write :func:`ontology` one Interface per file, in nested folders; return the files."""
    import json

    paths = []
    for i, doc in enumerate(ontology(n, **kwargs)):
        p = folder / f"area{i % 7}" / f"Equipment{i}.json"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(doc, indent=1), encoding="utf-8")
        paths.append(p)
    return paths
