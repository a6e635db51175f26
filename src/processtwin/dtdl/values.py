"""Literal property values: strings, localizable strings, booleans and integers.

DTDL accepts JSON-LD value objects (``{"@value": true, "@type": "xsd:boolean"}``) and
one-element arrays wherever a plain literal is allowed. These helpers turn the JSON into
plain Python values and report what is wrong.

    >>> problems: list[str] = []
    >>> as_literals([{"@value": 3}], "integer", 3, problems.append)
    [3]
    >>> parse_langstring({"en": "hi", "de": "hallo"}, 3, problems.append)
    {'en': 'hi', 'de': 'hallo'}
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = ["LANGUAGE_RE", "as_literals", "parse_langstring"]

LANGUAGE_RE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z]{4})?(?:-(?:[A-Za-z]{2}|[0-9]{3}))?$")
_XSD = "http://www.w3.org/2001/XMLSchema#"
_PY_TYPES: dict[str, type | tuple[type, ...]] = {"string": str, "boolean": bool, "integer": int}

Report = Callable[[str], None]


def _typed_ok(value: object, datatype: str) -> bool:
    if datatype == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, _PY_TYPES[datatype])


def _value_object(obj: dict[str, Any], datatype: str, version: int, report: Report) -> object:
    """Read a ``{"@value": ...}`` object; return ``None`` after reporting when invalid."""
    if "@value" not in obj:
        if any(not k.startswith("@") for k in obj):
            report(f"a {datatype} value object may only hold JSON-LD keywords")
        else:
            report(f"a {datatype} value object needs '@value'")
        return None
    for key in obj:
        if key in ("@value", "@type"):
            continue
        if not key.startswith("@"):
            report(f"a {datatype} value object may only hold JSON-LD keywords, not '{key}'")
            return None
        if version >= 3 or key in ("@id", "@context", "@graph"):
            report(f"a {datatype} value object may not hold '{key}'")
            return None
    if "@type" in obj:
        t = obj["@type"]
        if isinstance(t, list) and len(t) == 1:
            t = t[0]
        if t not in (f"xsd:{datatype}", _XSD + datatype):
            report(f"'@type' of a {datatype} value object must be xsd:{datatype}")
            return None
    value = obj["@value"]
    if not _typed_ok(value, datatype):
        report(f"'@value' must be a {datatype}")
        return None
    return value


def as_literals(raw: object, datatype: str, version: int, report: Report) -> list[Any]:
    """Plain values of a string, boolean or integer property (one per array item)."""
    items = raw if isinstance(raw, list) else [raw]
    out: list[Any] = []
    for item in items:
        if isinstance(item, dict):
            value = _value_object(item, datatype, version, report)
            if value is not None:
                out.append(value)
        elif _typed_ok(item, datatype):
            out.append(item)
        else:
            report(f"value must be a {datatype}, not {_describe(item)}")
    return out


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def parse_langstring(raw: object, version: int, report: Report) -> dict[str, str] | None:
    """Map language -> text of a localizable string property; ``None`` when invalid."""
    if isinstance(raw, str):
        return {"en": raw}
    if isinstance(raw, dict):
        out: dict[str, str] = {}
        for lang, text in raw.items():
            if not LANGUAGE_RE.match(lang):
                report(f"'{lang}' is not a language code")
                return None
            if not isinstance(text, str):
                report(f"the text for language '{lang}' must be a string")
                return None
            out[lang] = text
        return out
    if isinstance(raw, list):
        out = {}
        for item in raw:
            lang, text = _lang_item(item, version, report)
            if text is None:
                return None
            if lang in out:
                report(f"language '{lang}' appears more than once")
                return None
            out[lang] = text
        return out
    report(f"a localizable string must be a string, object or array, not {_describe(raw)}")
    return None


def _lang_item(item: object, version: int, report: Report) -> tuple[str, str | None]:
    if isinstance(item, str):
        return "en", item
    if not isinstance(item, dict):
        report(f"a localizable string item must be a string or object, not {_describe(item)}")
        return "", None
    if "@value" not in item:
        report("a localizable string item needs '@value'")
        return "", None
    allowed = {"@value", "@language"}
    for key in item:
        if key in allowed:
            continue
        if not key.startswith("@"):
            report(f"a localizable string item may only hold keywords, not '{key}'")
            return "", None
        if version >= 3 or key in ("@id", "@context", "@graph"):
            report(f"a localizable string item may not hold '{key}'")
            return "", None
    text = item["@value"]
    if not isinstance(text, str):
        report("'@value' of a localizable string item must be a string")
        return "", None
    lang = item.get("@language", "en")
    if not isinstance(lang, str) or not LANGUAGE_RE.match(lang):
        report(f"'{lang}' is not a language code")
        return "", None
    return lang, text
