"""Turn DTDL JSON documents into :class:`RawElement` trees, reporting every local problem.

This layer understands the JSON-LD flavour DTDL uses: contexts, terms versus DTMIs,
co-types, value objects, inline elements versus references. Cross-element rules
(resolution, ``extends``, depth and uniqueness limits) live in :mod:`processtwin.dtdl.validate`.
"""

from __future__ import annotations

from typing import Any

from processtwin.dtdl.context import (
    KNOWN_EXTENSIONS,
    SUPPORTED_VERSIONS,
    Scope,
    classify_context,
    dtdl_version_of,
    root_scope,
)
from processtwin.dtdl.dtmi import Dtmi, looks_like_dtmi, user_id_problem
from processtwin.dtdl.elements import RawElement
from processtwin.dtdl.errors import ERR, DTDLProblem
from processtwin.dtdl.limits import LIMITS
from processtwin.dtdl.metamodel import Kind, PropSpec, metamodel
from processtwin.dtdl.values import as_literals, parse_langstring

__all__ = ["DocumentParser"]

_OK_KEYWORDS = frozenset({"@context", "@id", "@type"})
# Apocrypha: how undefined things on an extensible element are judged, per DTDL version.
# category -> verdict (valid | tenable | invalid)
_COTYPE_RULES = {
    2: {"invalidDtmi": "invalid", "irrelevant": "tenable", "notDtmiNorTerm": "valid",
        "undefined": "valid"},
    3: {"invalidDtmi": "invalid", "irrelevant": "tenable", "notDtmiNorTerm": "invalid",
        "undefined": "tenable"},
}
_PROPERTY_RULES = {
    2: {"invalidDtmi": "valid", "irrelevant": "valid", "notDtmiNorTerm": "valid",
        "undefined": "valid"},
    3: {"invalidDtmi": "invalid", "irrelevant": "tenable", "notDtmiNorTerm": "invalid",
        "undefined": "tenable"},
}


class DocumentParser:
    """Parses documents one after the other, accumulating elements and problems."""

    def __init__(self, allow_undefined_extensions: bool) -> None:
        self.allow_undefined = allow_undefined_extensions
        self.problems: list[DTDLProblem] = []
        self.elements: list[RawElement] = []
        self.roots: list[RawElement] = []
        self.source: str | None = None

    # -- reporting -------------------------------------------------------------------------
    def err(self, vid: str, eid: str | None, prop: str | None, msg: str) -> None:
        """Record one problem."""
        self.problems.append(DTDLProblem(vid, eid, prop, msg, self.source))

    # -- documents -------------------------------------------------------------------------
    def parse_document(self, doc: object) -> None:
        """Parse one document: an Interface object or an array of them."""
        items = doc if isinstance(doc, list) else [doc]
        for item in items:
            if not isinstance(item, dict):
                self.err(ERR.NOT_OBJECT_OR_ARRAY, None, None,
                         "a DTDL document must be a JSON object or an array of objects")
                continue
            root = self._top_level(item)
            if root is not None:
                self.roots.append(root)

    def _top_level(self, obj: dict[str, Any]) -> RawElement | None:
        raw_id = obj.get("@id")
        eid = raw_id if isinstance(raw_id, str) else None
        if "@context" not in obj:
            self.err(ERR.MISSING_CONTEXT, eid, "@context",
                     "a top-level element needs a DTDL '@context'")
            return None
        scope = self._context(obj["@context"], None, eid)
        if scope is None:
            return None
        return self.parse_element(obj, scope, None, None, None, 0)

    # -- contexts --------------------------------------------------------------------------
    def _context(self, raw: object, parent: Scope | None, eid: str | None) -> Scope | None:
        entries_raw = raw if isinstance(raw, list) else [raw]
        entries = [e for e in entries_raw if isinstance(e, str)]
        if len(entries) != len(entries_raw):
            self.err(ERR.INVALID_CONTEXT, eid, "@context",
                     "'@context' must be a string or an array of strings")
            return None
        version: int | None = None
        exts: list[str] = []
        undefined = False
        ok = True
        pending_non_affiliate = False
        for spec in entries:
            kind = classify_context(spec)
            if kind == "dtdl":
                v = dtdl_version_of(spec)
                if v not in SUPPORTED_VERSIONS:
                    self.err(ERR.INVALID_CONTEXT, eid, "@context",
                             f"'{spec}' is not a supported DTDL version")
                    ok = False
                    continue
                if pending_non_affiliate:
                    self.err(ERR.CONTEXT_ORDER, eid, "@context",
                             "the DTDL context must come before extension contexts")
                    ok = False
                version = v
            elif kind == "known":
                exts.append(spec)
                if not KNOWN_EXTENSIONS[spec].affiliate:
                    pending_non_affiliate = True
            elif kind == "undefined":
                pending_non_affiliate = True
                if self.allow_undefined:
                    undefined = True
                else:
                    self.err(ERR.UNDEFINED_EXTENSION, eid, "@context",
                             f"extension context '{spec}' is not defined")
                    ok = False
            else:
                self.err(ERR.INVALID_CONTEXT, eid, "@context",
                         f"'{spec}' is not a DTMI with a version")
                ok = False
        if parent is None and version is None:
            if ok:
                self.err(ERR.MISSING_CONTEXT, eid, "@context",
                         "a top-level '@context' must include a DTDL context")
            return None
        eff_version = version if version is not None else parent.version if parent else 0
        for spec in exts:
            if eff_version not in KNOWN_EXTENSIONS[spec].dtdl_versions:
                self.err(ERR.WRONG_EXTENSION_VERSION, eid, "@context",
                         f"extension '{spec}' cannot be used with DTDL v{eff_version}")
                ok = False
        if not ok:
            return None
        if parent is None:
            return root_scope(eff_version, tuple(dict.fromkeys(exts)), undefined)
        if version is not None and version != parent.version:
            # a nested element may be written in another DTDL version
            return root_scope(version, tuple(dict.fromkeys(exts)), undefined or parent.undefined)
        if not exts and not undefined:
            return parent
        return parent.with_context(tuple(exts), undefined)

    # -- elements --------------------------------------------------------------------------
    def parse_element(
        self, obj: dict[str, Any], scope: Scope, spec: PropSpec | None,
        parent: RawElement | None, parent_prop: str | None, index: int,
    ) -> RawElement | None:
        """Parse one element object; return ``None`` when it cannot be understood."""
        raw_id = obj.get("@id")
        eid_hint = raw_id if isinstance(raw_id, str) else None
        if parent is not None and "@context" in obj:
            new_scope = self._context(obj["@context"], scope, eid_hint)
            if new_scope is None:
                return None
            scope = new_scope
        if spec is not None and parent is not None and not _version_fits(
            spec, scope.version, parent.version
        ):
            self.err(ERR.BAD_TYPE, eid_hint, parent_prop,
                     f"a DTDL v{scope.version} element cannot be a value of '{spec.name}' "
                     f"in a DTDL v{parent.version} element")
            return None
        mm = metamodel(scope.version)
        cls, cot = self._types(obj, scope, spec, parent, eid_hint)
        if cls is None:
            return None
        eid, id_given = self._identify(obj, scope, cls, spec, parent, parent_prop, index)
        if eid is None:
            return None
        partition = eid if cls == "Interface" else (parent.partition if parent else eid)
        el = RawElement(eid, cls, scope, parent, parent_prop, partition, id_given)
        sem, adj, undefined_types, open_ = cot
        el.semantic_types.extend(sem)
        el.adjuncts.extend(adj)
        el.undefined_types.extend(undefined_types)
        props = dict(mm.classes[cls].props)
        if sem and scope.unit_property is not None:
            props["unit"] = PropSpec("unit", Kind.INSTANCE, min_count=1,
                                     instances=frozenset(scope.units))
        for a in adj:
            for aname, (kind, req) in scope.adjuncts[a].props.items():
                if kind == "unit":
                    props[aname] = PropSpec(aname, Kind.INSTANCE, min_count=1 if req else 0,
                                            instances=frozenset(scope.units))
                    continue
                k = {"boolean": Kind.BOOLEAN, "integer": Kind.INTEGER}.get(kind, Kind.STRING)
                props[aname] = PropSpec(aname, k, min_count=1 if req else 0)
        iri_to_prop = {scope.terms.get(p, mm.iri("property", p)): p for p in props}
        seen: dict[str, str] = {}
        reported: set[str] = set()
        for key, value in obj.items():
            if key.startswith("@"):
                if key not in _OK_KEYWORDS and (scope.version >= 3 or key == "@graph"):
                    self.err(ERR.INVALID_KEYWORD, eid, key, f"keyword '{key}' is not allowed")
                continue
            prop_iri = self._resolve_term(scope, key)
            pname = iri_to_prop.get(prop_iri) if prop_iri is not None else None
            if pname is None:
                self._undefined_property(el, key, prop_iri, open_)
                continue
            if pname in seen:
                self.err(ERR.DUPLICATE_PROPERTY, eid, key,
                         f"property '{pname}' is given twice ('{seen[pname]}' and '{key}')")
                continue
            seen[pname] = key
            before = len(self.problems)
            self._property(el, props[pname], key, value)
            if len(self.problems) > before:
                reported.add(pname)
        for pname, ps in props.items():
            if ps.min_count > 0 and pname not in reported and not self._present(el, pname):
                self.err(ERR.MISSING_REQUIRED_PROPERTY, eid, pname,
                         f"{cls} requires property '{pname}'")
        self.elements.append(el)
        return el

    @staticmethod
    def _present(el: RawElement, pname: str) -> bool:
        if pname in el.literals:
            return True
        return bool(el.refs.get(pname))

    def _identify(
        self, obj: dict[str, Any], scope: Scope, cls: str, spec: PropSpec | None,
        parent: RawElement | None, parent_prop: str | None, index: int,
    ) -> tuple[str | None, bool]:
        if "@id" in obj:
            raw = obj["@id"]
            if not isinstance(raw, str):
                self.err(ERR.ID_NOT_STRING, None, "@id", "'@id' must be a string")
                return None, True
            problem = user_id_problem(raw, scope.version)
            if problem is not None:
                self.err(ERR.INVALID_ID, raw, "@id", problem)
                return None, True
            if cls == "Interface" and len(raw) > LIMITS[scope.version].interface_id_length:
                self.err(ERR.ID_TOO_LONG, raw, "@id", "an Interface '@id' is too long")
                return None, True
            return raw, True
        if parent is None or cls == "Interface" or (spec is not None and spec.id_required):
            self.err(ERR.ID_REQUIRED, parent.id if parent else None, "@id",
                     f"this {cls} needs an '@id'")
            return None, False
        name = obj.get("name")
        suffix = name if isinstance(name, str) and name.isidentifier() else str(index)
        base = parent.id.split(";", 1)[0].split("#", 1)[0]
        version = parent.id.split(";", 1)[1] if ";" in parent.id else "1"
        return f"{base}:_{parent_prop}:__{suffix};{version.split('#', 1)[0]}", False

    def _types(
        self, obj: dict[str, Any], scope: Scope, spec: PropSpec | None,
        parent: RawElement | None, eid: str | None,
    ) -> tuple[str | None, tuple[list[str], list[str], list[str], bool]]:
        empty: tuple[list[str], list[str], list[str], bool] = ([], [], [], False)
        if "@type" not in obj:
            if spec is not None and spec.implied_class is not None:
                return spec.implied_class, empty
            self.err(ERR.MISSING_TYPE, eid, "@type", "the element needs '@type'")
            return None, empty
        raw = obj["@type"]
        types = [raw] if isinstance(raw, str) else raw
        if not isinstance(types, list) or not types or not all(isinstance(t, str) for t in types):
            self.err(ERR.BAD_TYPE, eid, "@type", "'@type' must be a string or array of strings")
            return None, empty
        mm = metamodel(scope.version)
        materials: list[str] = []
        sem: list[str] = []
        adj: list[str] = []
        others: list[tuple[str, str]] = []
        for t in types:
            iri = scope.terms.get(t)
            if iri is None and Dtmi.parse(t) is not None:
                iri = t
            if iri is not None and iri in mm.class_iris:
                materials.append(mm.class_iris[iri])
            elif iri is not None and iri in scope.semantic_types:
                sem.append(scope.semantic_types[iri])
            elif iri is not None and iri in scope.adjuncts:
                adj.append(iri)
            else:
                others.append((t, _categorize(t, iri)))
        distinct = list(dict.fromkeys(materials))
        if not distinct:
            self.err(ERR.INVALID_TYPE, eid, "@type", "'@type' names no DTDL class")
            return None, empty
        if len(distinct) > 1:
            self.err(ERR.MULTIPLE_MATERIAL_TYPES, eid, "@type",
                     f"'@type' names more than one DTDL class: {', '.join(distinct)}")
            return None, empty
        cls = distinct[0]
        if parent is None and cls != "Interface":
            self.err(ERR.NOT_ROOTABLE, eid, "@type", f"a top-level element cannot be a {cls}")
            return None, empty
        if spec is not None and cls not in spec.classes:
            self.err(ERR.BAD_TYPE, eid, "@type",
                     f"a {cls} is not allowed in property '{spec.name}'")
            return None, empty
        ok = True
        if sem and not mm.classes[cls].semantic_cotypes:
            for s in sem:
                others.append((s, "irrelevant"))
            sem = []
        if len(set(sem)) > 1:
            self.err(ERR.MULTIPLE_SEMANTIC_TYPES, eid, "@type",
                     "an element may have only one semantic type")
            ok = False
        for a in adj:
            if cls not in scope.adjuncts[a].applies_to:
                self.err(ERR.INVALID_TYPE, eid, "@type",
                         f"co-type '{scope.adjuncts[a].name}' cannot apply to a {cls}")
                ok = False
        undefined_types: list[str] = []
        rules = _COTYPE_RULES[min(scope.version, 3)]
        for t, category in others:
            verdict = rules[category]
            if verdict == "tenable" and scope.undefined:
                verdict = "valid"
            if verdict != "valid":
                self.err(ERR.INVALID_TYPE, eid, "@type", f"co-type '{t}' is not allowed here")
                ok = False
            undefined_types.append(t)
        if not ok:
            return None, empty
        return cls, (list(dict.fromkeys(sem)), adj, undefined_types, bool(undefined_types))

    def _undefined_property(self, el: RawElement, key: str, iri: str | None, open_: bool) -> None:
        category = _categorize(key, iri)
        if not open_:
            self.err(ERR.UNDEFINED_TERM if category == "undefined" else ERR.INVALID_PROPERTY,
                     el.id, key, f"'{key}' is not a property of {el.cls}")
            return
        verdict = _PROPERTY_RULES[min(el.version, 3)][category]
        if verdict == "tenable" and el.scope.undefined:
            verdict = "valid"
        if verdict != "valid":
            self.err(ERR.INVALID_PROPERTY, el.id, key,
                     f"'{key}' is not allowed as a property here")

    # -- property values -------------------------------------------------------------------
    def _property(self, el: RawElement, ps: PropSpec, key: str, value: object) -> None:
        def report(msg: str) -> None:
            self.err(ERR.BAD_VALUE, el.id, key, msg)

        kind = ps.kind
        if kind is Kind.ELEMENT:
            self._element_values(el, ps, key, value)
            return
        if kind is Kind.INSTANCE:
            self._instance_values(el, ps, key, value)
            return
        if kind is Kind.LANGSTRING:
            texts = parse_langstring(value, el.version, report)
            if texts is None:
                return
            if ps.max_length is not None:
                for lang, text in texts.items():
                    if len(text) > ps.max_length:
                        self.err(ERR.STRING_TOO_LONG, el.id, key,
                                 f"'{key}' ({lang}) is longer than {ps.max_length} characters")
            el.literals[ps.name] = texts
            return
        if kind is Kind.ENUM_VALUE:
            vals = _enum_values(value, el.version, report)
        elif kind is Kind.IDENTIFIER:
            items = value if isinstance(value, list) else [value]
            vals = [v for v in items if isinstance(v, str)]
            if len(vals) != len(items):
                report(f"'{key}' must be a DTMI string")
                return
        else:
            datatype = {Kind.STRING: "string", Kind.BOOLEAN: "boolean",
                        Kind.INTEGER: "integer"}[kind]
            vals = as_literals(value, datatype, el.version, report)
        if not vals:
            return
        if len(vals) > 1:
            self.err(ERR.TOO_MANY_VALUES, el.id, key, f"'{key}' takes a single value")
            return
        v = vals[0]
        if kind is Kind.STRING and isinstance(v, str):
            if ps.max_length is not None and len(v) > ps.max_length:
                self.err(ERR.STRING_TOO_LONG, el.id, key,
                         f"'{key}' is longer than {ps.max_length} characters")
            if ps.pattern is not None and not ps.pattern.match(v):
                self.err(ERR.PATTERN_MISMATCH, el.id, key,
                         f"'{v}' must contain only letters, digits and '_', start with a "
                         "letter and not end with '_'")
        elif kind is Kind.IDENTIFIER and isinstance(v, str):
            problem = user_id_problem(v, el.version)
            if problem is not None:
                self.err(ERR.INVALID_ID, el.id, key, problem)
                return
        elif kind is Kind.INTEGER and isinstance(v, int) and (
            (ps.min_value is not None and v < ps.min_value)
            or (ps.max_value is not None and v > ps.max_value)
        ):
            self.err(ERR.NUMBER_OUT_OF_RANGE, el.id, key,
                     f"'{key}' must be between {ps.min_value} and {ps.max_value}")
        el.literals[ps.name] = v

    def _resolve_term(self, scope: Scope, text: str) -> str | None:
        iri = scope.terms.get(text)
        if iri is None and Dtmi.parse(text) is not None:
            iri = text
        return iri

    def _instance_values(self, el: RawElement, ps: PropSpec, key: str, value: object) -> None:
        items = value if isinstance(value, list) else [value]
        out: list[RawElement | str] = []
        for item in items:
            iri = self._resolve_term(el.scope, item) if isinstance(item, str) else None
            if iri is None or iri not in ps.instances:
                self.err(ERR.BAD_VALUE, el.id, key,
                         f"{_show(item)} is not an allowed value of '{ps.name}'")
                return
            out.append(iri)
        if ps.max_count is not None and len(out) > ps.max_count:
            self.err(ERR.TOO_MANY_VALUES, el.id, key, f"'{key}' takes a single value")
            return
        el.refs[ps.name] = out

    def _element_values(self, el: RawElement, ps: PropSpec, key: str, value: object) -> None:
        items = value if isinstance(value, list) else [value]
        out: list[RawElement | str] = []
        mm = metamodel(el.version)
        for i, item in enumerate(items):
            if isinstance(item, str):
                iri = self._resolve_term(el.scope, item)
                if iri is None:
                    self.err(ERR.BAD_VALUE, el.id, key,
                             f"'{item}' is neither a DTMI nor a defined term")
                    continue
                if iri in mm.instances or iri in el.scope.schemas:
                    # standard elements; extension schemas go wherever primitive schemas may
                    allowed = iri in ps.instances or (
                        iri in el.scope.schemas and bool(ps.instances)
                    )
                    if not allowed:
                        self.err(ERR.BAD_VALUE, el.id, key,
                                 f"'{item}' is not an allowed value of '{ps.name}'")
                        continue
                out.append(iri)
            elif isinstance(item, dict):
                child = self.parse_element(item, el.scope, ps, el, ps.name, i)
                if child is not None:
                    out.append(child)
            else:
                self.err(ERR.BAD_VALUE, el.id, key,
                         f"{_show(item)} is not an element or a reference")
        if ps.max_count is not None and len(items) > ps.max_count:
            self.err(ERR.TOO_MANY_VALUES, el.id, key,
                     f"'{key}' takes at most {ps.max_count} value(s)")
        if ps.min_count > 0 and isinstance(value, list) and not value:
            self.err(ERR.TOO_FEW_VALUES, el.id, key, f"'{key}' needs at least one value")
        el.refs[ps.name] = out


def _version_fits(spec: PropSpec, child: int, parent: int) -> bool:
    """Whether an element of DTDL ``child`` version may be a value of ``spec``."""
    return child <= parent if spec.lower_versions else child == parent


def _enum_values(value: object, version: int, report: Any) -> list[Any]:
    items = value if isinstance(value, list) else [value]
    out: list[Any] = []
    for item in items:
        if isinstance(item, dict) and "@value" in item:
            item = item["@value"]
        if isinstance(item, str) or (isinstance(item, int) and not isinstance(item, bool)):
            out.append(item)
        else:
            report(f"{_show(item)} is not a string or integer")
    return out


def _categorize(text: str, iri: str | None) -> str:
    """How an unusable type or property name is classed (DTDLParser's apocrypha)."""
    if iri is not None:
        return "irrelevant"
    if looks_like_dtmi(text):
        return "invalidDtmi"
    if ":" in text:
        return "notDtmiNorTerm"
    return "undefined"


def _show(value: object) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    return type(value).__name__ if value is not None else "null"
