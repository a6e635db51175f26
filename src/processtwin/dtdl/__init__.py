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
from collections.abc import Iterable

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
    "parse",
]

Document = str | bytes | dict[str, object] | list[object]


def parse(
    documents: Iterable[Document], *, allow_undefined_extensions: bool = False
) -> ModelSet:
    """Parse and validate DTDL ``documents`` together; return the resolved model set.

    Each document is JSON text or an already parsed object (an Interface object or a list
    of them). References may cross documents. ``allow_undefined_extensions`` accepts
    extension contexts the parser does not know (and the terms they may define), like
    DTDLParser's ``AllowUndefinedExtensions``.

    Raises :class:`DTDLValidationError` with every problem when anything is invalid.
    """
    parser = DocumentParser(allow_undefined_extensions)
    if isinstance(documents, (str, bytes, dict)):
        documents = [documents]  # a single document given on its own
    for i, doc in enumerate(documents):
        if isinstance(doc, (str, bytes)):
            try:
                text = doc.decode("utf-8-sig") if isinstance(doc, bytes) else doc.lstrip("\ufeff")
                loaded: object = json.loads(text)
            except (ValueError, RecursionError) as exc:
                parser.err(ERR.BAD_JSON, None, None, f"document {i} is not valid JSON: {exc}")
                continue
        else:
            loaded = doc
        try:
            parser.parse_document(loaded)
        except RecursionError:
            parser.err(ERR.EXCEEDS_DEPTH, None, None, f"document {i} is nested too deeply")
    if parser.problems:
        raise DTDLValidationError(parser.problems)
    validator = Validator(parser.elements)
    try:
        problems = validator.run()
    except RecursionError:
        problems = [DTDLProblem(ERR.EXCEEDS_DEPTH, None, None, "models are nested too deeply")]
    if problems:
        raise DTDLValidationError(problems)
    return build_model_set(validator)
