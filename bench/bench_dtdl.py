"""DTDL parse-and-validate speed.

1. The DTDLParser specification suite from ../shared (13,384 cases): cases per second, and
   the verdict agreement. Baseline: ``json.loads`` + ``json.dumps`` of the same case inputs,
   the floor any parser pays to touch the documents.
2. A generated plant ontology of 500 Interfaces in 500 files, extending each other across
   files (``processtwin.dtdl.synthetic``): the time to load the whole folder with
   :func:`processtwin.dtdl.load`. Baseline: reading and ``json.loads`` of the same files.

Timings are medians over repeats. ``ratio`` = baseline time / our time (higher is better; the
baseline does no validation at all, so the ratio says what validation costs over bare JSON).
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from processtwin.dtdl import load, parse
from processtwin.dtdl.conformance import evaluate, iter_cases
from processtwin.dtdl.synthetic import write_ontology


def _shared() -> Path:
    env = os.environ.get("PTWIN_SHARED")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared"


def run(quick: bool = False) -> dict[str, Any]:
    repeats = 3 if quick else 5
    results: list[dict[str, Any]] = []
    notes: list[str] = []
    cases = list(iter_cases(_shared()))
    if quick:
        cases = cases[::10]
    if cases:
        ours, base = [], []
        agree = 0
        for _ in range(repeats):
            t = time.perf_counter()
            agree = sum(evaluate(c) for c in cases)
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            for c in cases:
                json.loads(json.dumps(c.documents))
            base.append(time.perf_counter() - t)
        o, b = statistics.median(ours), statistics.median(base)
        results.append({"name": "specification cases parsed and judged", "value": len(cases) / o,
                        "unit": "cases/s", "baseline": "json.dumps+json.loads of the inputs",
                        "baseline_value": len(cases) / b, "ratio": b / o})
        results.append({"name": "specification verdict agreement",
                        "value": 100 * agree / len(cases),
                        "unit": "%", "baseline": None, "baseline_value": None, "ratio": None})
        notes.append(f"{len(cases)} specification cases from {_shared()}")
    else:
        notes.append(f"no specification cases under {_shared()}: suite skipped")

    n = 200 if quick else 500
    with tempfile.TemporaryDirectory() as d:
        files = write_ontology(Path(d), n)
        ours, base = [], []
        for _ in range(repeats):
            t = time.perf_counter()
            models = load([d])
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            for f in sorted(Path(d).rglob("*.json")):
                json.loads(f.read_text(encoding="utf-8-sig"))
            base.append(time.perf_counter() - t)
        assert len(models) == n
        o, b = statistics.median(ours), statistics.median(base)
        results.append({"name": f"ontology folder load ({n} interfaces, {len(files)} files)",
                        "value": o * 1000, "unit": "ms", "baseline": "read + json.loads",
                        "baseline_value": b * 1000, "ratio": b / o})
        docs = [json.loads(f.read_text()) for f in files]
        t = time.perf_counter()
        parse(docs)
        once = (time.perf_counter() - t) * 1000
        notes.append(f"ontology parse from already parsed JSON, once: {once:.0f} ms")
    notes.append(f"median of {repeats} repeats; ratio = baseline time / our time")
    return {"bench": "dtdl", "results": results, "notes": notes}
