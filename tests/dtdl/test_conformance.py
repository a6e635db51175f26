"""DTDLParser's conformance cases, one test per case.

The cases live in ``<shared>/conformance/dtdl`` (``shared`` sits next to the repository; the
``PTWIN_SHARED`` environment variable overrides it). Every file is read once per module.
Cases listed in ``known_disagreements.txt`` are expected to fail (strict xfail), so the
test fails as soon as they start to agree.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from processtwin.dtdl import DTDLValidationError, parse
from processtwin.dtdl.conformance import Case, evaluate, iter_cases, run
from processtwin.dtdl.dtmi import Dtmi

SHARED = Path(
    os.environ.get("PTWIN_SHARED") or Path(__file__).resolve().parents[2].parent / "shared"
)
CONFORMANCE = SHARED / "conformance" / "dtdl"

pytestmark = [
    pytest.mark.shared,
    pytest.mark.skipif(not CONFORMANCE.is_dir(), reason=f"{CONFORMANCE} is absent"),
]


def _known_disagreements() -> set[str]:
    path = Path(__file__).with_name("known_disagreements.txt")
    ids: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        # an id looks like "File-NameV3#12"; the reason follows after " # "
        case_id = text.split(" # ", 1)[0].strip()
        ids.add(case_id)
    return ids


KNOWN = _known_disagreements()
SPEC_CASES: list[Case] = list(iter_cases(SHARED))


def _doc_examples() -> list[tuple[str, dict[str, Any]]]:
    folder = CONFORMANCE / "doc-examples"
    if not folder.is_dir():
        return []
    return [
        (p.stem, json.loads(p.read_text(encoding="utf-8-sig")))
        for p in sorted(folder.glob("*.json"))
    ]


def _dtmi_cases() -> list[tuple[str, dict[str, Any]]]:
    folder = CONFORMANCE / "dtmis"
    if not folder.is_dir():
        return []
    return [
        (p.stem, json.loads(p.read_text(encoding="utf-8-sig")))
        for p in sorted(folder.glob("*.json"))
    ]


def _params(items: list[Any], ids: list[str]) -> list[Any]:
    return [
        pytest.param(item, id=i, marks=pytest.mark.xfail(strict=True, reason="known disagreement"))
        if i in KNOWN
        else pytest.param(item, id=i)
        for item, i in zip(items, ids, strict=True)
    ]


@pytest.mark.parametrize("case", _params(SPEC_CASES, [c.case_id for c in SPEC_CASES]))
def test_specification_case(case: Case) -> None:
    assert evaluate(case), f"expected {'valid' if case.valid else 'invalid'}"


DOC_EXAMPLES = _doc_examples()


@pytest.mark.parametrize(
    "example", _params([d for _, d in DOC_EXAMPLES], [f"doc:{n}" for n, _ in DOC_EXAMPLES])
)
def test_doc_example(example: dict[str, Any]) -> None:
    allow = "AllowUndefinedExtensions" in example.get("options", [])
    try:
        parse(example["input"], allow_undefined_extensions=allow)
    except DTDLValidationError as exc:
        errors = [str(e) for e in exc.errors]
        assert not example["valid"], errors
    else:
        assert example["valid"], "expected invalid"


DTMI_CASES = _dtmi_cases()


@pytest.mark.parametrize(
    "case", _params([d for _, d in DTMI_CASES], [f"dtmi:{n}" for n, _ in DTMI_CASES])
)
def test_dtmi_case(case: dict[str, Any]) -> None:
    parsed = Dtmi.parse(case["idText"])
    assert (parsed is not None) == case["valid"]
    if parsed is None:
        return
    expect = case["expect"]
    assert parsed.major_version == expect["MajorVersion"]
    assert parsed.minor_version == expect["MinorVersion"]
    assert parsed.complete_version == pytest.approx(expect["CompleteVersion"])
    assert parsed.versionless == expect["Versionless"]
    assert list(parsed.labels) == expect["Labels"]
    assert parsed.is_reserved == expect["IsReserved"]
    assert parsed.fragment == expect["Fragment"]


def test_agreement_summary() -> None:
    """The benchmark entry point agrees with the per-case tests (>= 99 % per version)."""
    summary = run(SHARED)
    assert summary["cases"] == len(SPEC_CASES)
    for version, stats in summary["by_version"].items():
        assert stats["agree"] / stats["cases"] >= 0.99, version
