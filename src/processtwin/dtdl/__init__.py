"""DTDL v2/v3 parser and validator.

:func:`parse` reads Digital Twins Definition Language documents (JSON text or already
parsed objects), checks them against the language rules DTDLParser applies, and returns
an immutable, resolved :class:`~processtwin.dtdl.model.ModelSet`. Any problem raises
:class:`DTDLValidationError` listing *every* problem found.

    >>> from processtwin.dtdl import parse, DTDLValidationError
    >>> doc = '''{"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:Pump;1",
    ...           "@type": "Interface",
    ...           "contents": [{"@type": "Telemetry", "name": "flow", "schema": "double"}]}'''
    >>> parse([doc]).interfaces["dtmi:ex:Pump;1"].telemetries[0].name
    'flow'
    >>> try:
    ...     parse(['{"@context": "dtmi:dtdl:context;3", "@id": "bad", "@type": "Interface"}'])
    ... except DTDLValidationError as exc:
    ...     print(exc.errors[0].validation_id)
    dtmi:dtdl:parsingError:invalidId
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from processtwin.dtdl.build import build_model_set
from processtwin.dtdl.dtmi import Dtmi
from processtwin.dtdl.errors import ERR, DTDLProblem, DTDLValidationError
from processtwin.dtdl.model import Interface, ModelSet
from processtwin.dtdl.parser import DocumentParser
from processtwin.dtdl.validate import Validator

__all__ = [
    "DTDLProblem",
    "DTDLValidationError",
    "Dtmi",
    "Interface",
    "ModelSet",
    "load",
    "parse",
]

Document = str | bytes | dict[str, object] | list[object]


def parse(
    documents: Iterable[Document], *, allow_undefined_extensions: bool = False,
    names: Sequence[str] | None = None,
) -> ModelSet:
    """Parse and validate DTDL ``documents`` together; return the resolved model set.

    Each document is JSON text or an already parsed object (an Interface object or a list
    of them). References may cross documents. ``allow_undefined_extensions`` accepts
    extension contexts the parser does not know (and the terms they may define), like
    DTDLParser's ``AllowUndefinedExtensions``. ``names`` (one per document, e.g. file
    paths) are reported as each problem's ``source``.

    Raises :class:`DTDLValidationError` with every problem when anything is invalid.
    """
    parser = DocumentParser(allow_undefined_extensions)
    if isinstance(documents, (str, bytes, dict)):
        documents = [documents]  # a single document given on its own
    origin: dict[str, str] = {}
    for i, doc in enumerate(documents):
        parser.source = names[i] if names is not None and i < len(names) else None
        if isinstance(doc, (str, bytes)):
            try:
                text = doc.decode("utf-8-sig") if isinstance(doc, bytes) else doc.lstrip("\ufeff")
                loaded: object = json.loads(text)
            except (ValueError, RecursionError) as exc:
                parser.err(ERR.BAD_JSON, None, None, f"document {i} is not valid JSON: {exc}")
                continue
        else:
            loaded = doc
        seen = len(parser.elements)
        try:
            parser.parse_document(loaded)
        except RecursionError:
            parser.err(ERR.EXCEEDS_DEPTH, None, None, f"document {i} is nested too deeply")
        if parser.source is not None:
            for el in parser.elements[seen:]:
                origin.setdefault(el.id, parser.source)
    if parser.problems:
        raise DTDLValidationError(parser.problems)
    validator = Validator(parser.elements)
    try:
        problems = validator.run()
    except RecursionError:
        problems = [DTDLProblem(ERR.EXCEEDS_DEPTH, None, None, "models are nested too deeply")]
    if problems:
        raise DTDLValidationError([
            replace(p, source=origin.get(p.element_id or "")) if p.source is None else p
            for p in problems])
    return build_model_set(validator)


def load(paths: Iterable[str | Path], *, allow_undefined_extensions: bool = False,
         strict_targets: bool = True) -> ModelSet:
    """Load every ``.json`` DTDL file under ``paths`` (folders searched recursively) together.

    Problems name the file they were found in (``DTDLProblem.source``). DTDL itself lets a
    Relationship's ``target`` name an Interface that is not there; a twin platform cannot
    use such a model, so with ``strict_targets`` (the default) a target missing from the
    folder is reported as ``unresolvedReference`` alongside every other problem.

        >>> len(load([]))
        0
    """
    files: list[Path] = []
    for p in map(Path, paths):
        files.extend(sorted(q for q in p.rglob("*.json") if q.is_file()) if p.is_dir() else [p])
    files = list(dict.fromkeys(files))
    texts: list[str] = []
    for f in files:
        try:
            texts.append(f.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError) as exc:
            raise DTDLValidationError([DTDLProblem(
                ERR.BAD_JSON, None, None, f"cannot read: {exc}", str(f))]) from exc
    names = [str(f) for f in files]
    extra = _dangling_targets(texts, names) if strict_targets else []
    try:
        models = parse(texts, allow_undefined_extensions=allow_undefined_extensions, names=names)
    except DTDLValidationError as exc:
        raise DTDLValidationError(exc.errors + extra) from None
    if extra:
        raise DTDLValidationError(extra)
    return models


def _dangling_targets(texts: list[str], names: list[str]) -> list[DTDLProblem]:
    """Relationship targets that name no Interface defined in ``texts``."""
    defined: set[str] = set()
    wanted: list[tuple[str, str, str]] = []  # (interface id, target, file)

    def roots(text: str) -> list[dict[str, Any]]:
        try:
            doc = json.loads(text)
        except ValueError:
            return []
        items = doc if isinstance(doc, list) else [doc]
        return [d for d in items if isinstance(d, dict)]

    for text, name in zip(texts, names, strict=True):
        for root in roots(text):
            rid = root.get("@id")
            if not isinstance(rid, str):
                continue
            defined.add(rid)
            contents = root.get("contents")
            for c in contents if isinstance(contents, list) else []:
                if not isinstance(c, dict):
                    continue
                kind = c.get("@type")
                kinds = kind if isinstance(kind, list) else [kind]
                target = c.get("target")
                if "Relationship" in kinds and isinstance(target, str):
                    wanted.append((rid, target, name))
    return [DTDLProblem(ERR.UNRESOLVED_REFERENCE, rid, "target",
                        f"relationship target {target!r} is not defined in the models", name)
            for rid, target, name in wanted if target not in defined]
