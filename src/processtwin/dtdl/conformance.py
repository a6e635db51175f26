"""Run DTDLParser's specification cases against :func:`processtwin.dtdl.parse`.

The cases live in ``<shared>/conformance/dtdl/specification/*.json`` (UTF-8 with BOM); each
file holds a list of ``{"valid", "options", "input"}`` cases, where ``input`` is the list
of documents to parse together and ``options`` holds ``AllowUndefinedExtensions`` or
``DisallowUndefinedExtensions``.

    >>> from pathlib import Path
    >>> run(Path("/nonexistent"))["cases"]
    0
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from processtwin.dtdl import parse
from processtwin.dtdl.errors import DTDLValidationError

__all__ = ["Case", "evaluate", "iter_cases", "run"]

_VERSION_RE = re.compile(r"V(\d+)\.json$")


@dataclass(frozen=True, slots=True)
class Case:
    """One specification case."""

    case_id: str
    version: int
    valid: bool
    allow_undefined: bool
    documents: list[Any]


def iter_cases(shared_dir: Path | str) -> Iterator[Case]:
    """Every specification case under ``shared_dir`` (nothing when the folder is absent)."""
    spec_dir = Path(shared_dir) / "conformance" / "dtdl" / "specification"
    if not spec_dir.is_dir():
        return
    for path in sorted(spec_dir.glob("*.json")):
        m = _VERSION_RE.search(path.name)
        version = int(m.group(1)) if m else 0
        cases = json.loads(path.read_text(encoding="utf-8-sig"))
        for i, case in enumerate(cases):
            yield Case(
                case_id=f"{path.stem}#{i}",
                version=version,
                valid=bool(case["valid"]),
                allow_undefined="AllowUndefinedExtensions" in case.get("options", []),
                documents=list(case["input"]),
            )


def evaluate(case: Case) -> bool:
    """True when the parser's verdict (valid or not) agrees with the case."""
    try:
        parse(case.documents, allow_undefined_extensions=case.allow_undefined)
    except DTDLValidationError:
        return not case.valid
    return case.valid


def run(shared_dir: Path | str) -> dict[str, Any]:
    """Counts of cases, agreements and disagreements, overall and per DTDL version.

    ``seconds`` is the time spent parsing (file loading excluded).
    """
    total = agree = 0
    spent = 0.0
    by_version: dict[str, dict[str, int]] = {}
    for case in iter_cases(shared_dir):
        start = time.perf_counter()
        ok = evaluate(case)
        spent += time.perf_counter() - start
        total += 1
        agree += ok
        stats = by_version.setdefault(f"v{case.version}", {"cases": 0, "agree": 0, "disagree": 0})
        stats["cases"] += 1
        stats["agree" if ok else "disagree"] += 1
    return {"cases": total, "agree": agree, "disagree": total - agree, "by_version": by_version,
            "seconds": spent}
