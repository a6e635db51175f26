"""Problems found in DTDL models and the exception that carries all of them.

Validation ids follow DTDLParser's (``dtmi:dtdl:parsingError:<name>``) so that reports can be
compared with the reference parser.

    >>> p = DTDLProblem(ERR.INVALID_ID, "dtmi:ex:a;1", "@id", "bad id")
    >>> str(p)
    'dtmi:ex:a;1 @id: bad id [invalidId]'
"""

from __future__ import annotations

from dataclasses import dataclass

from processtwin.errors import InvalidInputError

__all__ = ["ERR", "DTDLProblem", "DTDLValidationError"]


class ERR:
    """Validation ids, mirroring DTDLParser's parsing error ids."""

    _P = "dtmi:dtdl:parsingError:"
    BAD_JSON = _P + "invalidJson"
    NOT_OBJECT_OR_ARRAY = _P + "notObjectOrArray"
    MISSING_CONTEXT = _P + "missingContext"
    INVALID_CONTEXT = _P + "invalidContextSpecifier"
    CONTEXT_ORDER = _P + "dtdlContextFollowsAffiliate"
    UNDEFINED_EXTENSION = _P + "undefinedExtension"
    WRONG_EXTENSION_VERSION = _P + "extensionVersionNotSupported"
    INVALID_ID = _P + "invalidId"
    ID_NOT_STRING = _P + "idNotString"
    ID_REQUIRED = _P + "idRequired"
    ID_TOO_LONG = _P + "idTooLong"
    DUPLICATE_DEFINITION = _P + "duplicateDefinition"
    MISSING_TYPE = _P + "missingType"
    BAD_TYPE = _P + "badType"
    INVALID_TYPE = _P + "invalidType"
    MULTIPLE_MATERIAL_TYPES = _P + "multipleMaterialTypes"
    NOT_ROOTABLE = _P + "notRootable"
    INVALID_KEYWORD = _P + "invalidKeyword"
    UNDEFINED_TERM = _P + "undefinedTerm"
    INVALID_PROPERTY = _P + "invalidPropertyName"
    IRRELEVANT_PROPERTY = _P + "irrelevantProperty"
    DUPLICATE_PROPERTY = _P + "duplicatePropertyName"
    MISSING_REQUIRED_PROPERTY = _P + "missingRequiredProperty"
    TOO_MANY_VALUES = _P + "tooManyValues"
    TOO_FEW_VALUES = _P + "tooFewValues"
    BAD_VALUE = _P + "valueNotValid"
    STRING_TOO_LONG = _P + "stringTooLong"
    PATTERN_MISMATCH = _P + "patternMismatch"
    NUMBER_OUT_OF_RANGE = _P + "valueOutOfRange"
    BAD_LANGUAGE = _P + "languageCodeInvalid"
    DUPLICATE_LANGUAGE = _P + "duplicateLanguage"
    NOT_UNIQUE = _P + "duplicateName"
    UNRESOLVED_REFERENCE = _P + "unresolvedReference"
    NOT_REFERENCEABLE = _P + "notReferenceable"
    REFERENCE_TYPE = _P + "referenceTypeNotAllowed"
    RECURSIVE = _P + "recursiveStructure"
    EXCEEDS_DEPTH = _P + "excessiveDepth"
    EXCEEDS_COUNT = _P + "excessiveCount"
    EXCLUDED_TYPE = _P + "excludedType"
    MISSING_UNIT = _P + "missingCotypeProperty"
    UNIT_MISMATCH = _P + "unitNotAllowed"
    SCHEMA_NOT_NUMERIC = _P + "cotypeRequiresNumericSchema"
    MULTIPLE_SEMANTIC_TYPES = _P + "multipleSemanticTypes"


@dataclass(frozen=True, slots=True)
class DTDLProblem:
    """One problem in a DTDL model.

    ``element_id`` is the DTMI of the element the problem is in (``None`` when the problem is
    at document level); ``property`` names the offending JSON member when there is one;
    ``source`` names the file (or document) the element was written in, when known.
    """

    validation_id: str
    element_id: str | None
    property: str | None
    message: str
    source: str | None = None

    def __str__(self) -> str:
        where = self.element_id or "<document>"
        if self.source:
            where = f"{self.source}: {where}"
        if self.property:
            where += f" {self.property}"
        short = self.validation_id.rsplit(":", 1)[-1]
        return f"{where}: {self.message} [{short}]"


class DTDLValidationError(InvalidInputError):
    """The DTDL models given to :func:`processtwin.dtdl.parse` are invalid.

    ``errors`` lists every problem found, not only the first.
    """

    def __init__(self, errors: list[DTDLProblem]) -> None:
        self.errors: list[DTDLProblem] = list(errors)
        head = "; ".join(str(e) for e in self.errors[:3])
        more = f" (and {len(self.errors) - 3} more)" if len(self.errors) > 3 else ""
        super().__init__(f"{len(self.errors)} DTDL problem(s): {head}{more}")
