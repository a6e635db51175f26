"""Rules that span elements: resolution, ``extends``, schema depth, uniqueness and units.

Runs after every document has been parsed into :class:`RawElement` trees, so references
across documents resolve regardless of order.
"""

from __future__ import annotations

from collections.abc import Iterable

from processtwin.dtdl.elements import RawElement
from processtwin.dtdl.errors import ERR, DTDLProblem
from processtwin.dtdl.limits import LIMITS
from processtwin.dtdl.metamodel import Kind, metamodel
from processtwin.dtdl.units import units_for

__all__ = ["Validator"]

_SCHEMA_HOLDERS = frozenset(
    {"Telemetry", "Property", "CommandPayload", "CommandRequest", "CommandResponse", "Field",
     "MapValue"}
)


class Validator:
    """Checks a complete set of parsed elements; problems go to ``self.problems``."""

    def __init__(self, elements: list[RawElement]) -> None:
        self.elements = elements
        self.problems: list[DTDLProblem] = []
        self.index: dict[str, RawElement] = {}
        self._depth_memo: dict[int, int] = {}

    def err(self, vid: str, eid: str | None, prop: str | None, msg: str) -> None:
        """Record one problem."""
        self.problems.append(DTDLProblem(vid, eid, prop, msg))

    def run(self) -> list[DTDLProblem]:
        """Run every check and return the problems found."""
        self._index()
        self._references()
        if self.problems:
            return self.problems
        interfaces = [e for e in self.elements if e.cls == "Interface"]
        self._extends(interfaces)
        if self.problems:
            return self.problems
        for iface in interfaces:
            self._interface(iface)
        for el in self.elements:
            self._element(el)
        return self.problems

    # -- identity and references -----------------------------------------------------------
    def _index(self) -> None:
        for el in self.elements:
            other = self.index.get(el.id)
            if other is None:
                self.index[el.id] = el
            elif el.id_given or other.id_given:
                self.err(ERR.DUPLICATE_DEFINITION, el.id, "@id",
                         f"'{el.id}' is defined more than once")

    def deref(self, ref: RawElement | str) -> RawElement | None:
        """The element a reference names (``None`` for standard elements and unknown IRIs)."""
        if isinstance(ref, RawElement):
            return ref
        return self.index.get(ref)

    def _references(self) -> None:
        for el in self.elements:
            mm = metamodel(el.version)
            props = mm.classes[el.cls].props
            for pname, vals in el.refs.items():
                ps = props.get(pname)
                if ps is None or ps.kind is not Kind.ELEMENT:
                    continue
                for ref in vals:
                    if not isinstance(ref, str) or ref in ps.instances:
                        continue
                    if ref in el.scope.schemas:
                        continue
                    target = self.index.get(ref)
                    if target is None:
                        self.err(ERR.UNRESOLVED_REFERENCE, el.id, pname,
                                 f"'{ref}' is not defined")
                    elif target.cls not in ps.classes:
                        self.err(ERR.REFERENCE_TYPE, el.id, pname,
                                 f"'{ref}' is a {target.cls}, not allowed in '{pname}'")
                    elif not (target.version <= el.version if ps.lower_versions
                              else target.version == el.version):
                        self.err(ERR.REFERENCE_TYPE, el.id, pname,
                                 f"'{ref}' is DTDL v{target.version}, not allowed here")
                    elif target.cls != "Interface" and target.partition != el.partition:
                        self.err(ERR.NOT_REFERENCEABLE, el.id, pname,
                                 f"'{ref}' belongs to another Interface and cannot be referenced")

    # -- interfaces --------------------------------------------------------------------------
    def bases(self, iface: RawElement) -> list[RawElement]:
        """The Interfaces ``iface`` directly extends."""
        out = []
        for ref in iface.refs.get("extends", []):
            target = self.deref(ref)
            if target is not None and target.cls == "Interface":
                out.append(target)
        return out

    def _extends(self, interfaces: list[RawElement]) -> None:
        state: dict[int, int] = {}  # 1 = visiting, 2 = done
        depth: dict[int, int] = {}

        def visit(node: RawElement, path: list[RawElement]) -> int:
            key = id(node)
            if state.get(key) == 1:
                self.err(ERR.RECURSIVE, node.id, "extends",
                         f"'{node.id}' extends itself through "
                         + " -> ".join(p.id for p in path))
                return 0
            if state.get(key) == 2:
                return depth[key]
            state[key] = 1
            d = 0
            for base in self.bases(node):
                d = max(d, 1 + visit(base, [*path, base]))
            state[key] = 2
            depth[key] = d
            return d

        for iface in interfaces:
            d = visit(iface, [iface])
            lim = LIMITS[iface.version]
            if d > lim.extends_depth:
                self.err(ERR.EXCEEDS_DEPTH, iface.id, "extends",
                         f"'extends' is nested {d} deep; the limit is {lim.extends_depth}")
        if self.problems:
            return
        for iface in interfaces:
            lim = LIMITS[iface.version]
            if lim.extends_total is not None:
                total = len(self.ancestors(iface))
                if total > lim.extends_total:
                    self.err(ERR.EXCEEDS_COUNT, iface.id, "extends",
                             f"{total} Interfaces in the 'extends' hierarchy; the limit is "
                             f"{lim.extends_total}")

    def ancestors(self, iface: RawElement) -> list[RawElement]:
        """Every Interface ``iface`` inherits from, nearest first, without repeats."""
        seen: dict[int, RawElement] = {}
        stack = list(reversed(self.bases(iface)))
        while stack:
            node = stack.pop()
            if id(node) in seen or node is iface:
                continue
            seen[id(node)] = node
            stack.extend(reversed(self.bases(node)))
        return list(seen.values())

    def all_contents(self, iface: RawElement) -> list[RawElement]:
        """Own and inherited contents of an Interface (each element once)."""
        out: dict[int, RawElement] = {}
        for node in [iface, *self.ancestors(iface)]:
            for ref in node.refs.get("contents", []):
                target = self.deref(ref)
                if target is not None:
                    out.setdefault(id(target), target)
        return list(out.values())

    def _interface(self, iface: RawElement) -> None:
        contents = self.all_contents(iface)
        self._unique_names(iface, "contents", contents)
        for c in contents:
            if c.cls != "Component" or c.partition != iface.id:
                continue
            for ref in c.refs.get("schema", []):
                target = self.deref(ref)
                if target is None:
                    continue
                if any(x.cls == "Component" for x in self.all_contents(target)):
                    self.err(ERR.EXCLUDED_TYPE, c.id, "schema",
                             "the Interface of a Component may not itself have Components")

    def _unique_names(self, owner: RawElement, prop: str, items: Iterable[RawElement]) -> None:
        seen: set[str] = set()
        for item in items:
            name = item.literals.get("name")
            if not isinstance(name, str):
                continue
            if name in seen:
                self.err(ERR.NOT_UNIQUE, owner.id, prop,
                         f"name '{name}' is used more than once in '{prop}'")
            seen.add(name)

    # -- per element -------------------------------------------------------------------------
    def _element(self, el: RawElement) -> None:
        cls = el.cls
        if cls in _SCHEMA_HOLDERS or (cls == "Interface"):
            self._schema_checks(el)
        if cls == "Object":
            self._unique_names(el, "fields", self._targets(el, "fields"))
        elif cls == "Relationship":
            self._unique_names(el, "properties", self._targets(el, "properties"))
        elif cls == "Enum":
            self._enum(el)
        if el.semantic_types:
            self._semantic(el)
        if any(a.endswith(":Transparent") for a in el.adjuncts):
            for ref in el.refs.get("schema", []):
                if isinstance(ref, str) and ":bytes;" not in ref:
                    self.err(ERR.BAD_VALUE, el.id, "schema",
                             "a Transparent payload must be bytes or a complex schema")

    def _targets(self, el: RawElement, prop: str) -> list[RawElement]:
        out = []
        for ref in el.refs.get(prop, []):
            target = self.deref(ref)
            if target is not None:
                out.append(target)
        return out

    def _schema_checks(self, el: RawElement) -> None:
        prop = "schemas" if el.cls == "Interface" else "schema"
        lim = LIMITS[el.version]
        for ref in el.refs.get(prop, []):
            d = self.schema_depth(ref, [])
            if d < 0:
                self.err(ERR.RECURSIVE, el.id, prop, "the schema refers to itself")
            elif d > lim.schema_depth:
                self.err(ERR.EXCEEDS_DEPTH, el.id, prop,
                         f"the schema is nested {d} deep; the limit is {lim.schema_depth}")
            if el.cls == "Property" and el.version == 2 and self.has_array(ref, []):
                self.err(ERR.EXCLUDED_TYPE, el.id, prop,
                         "a DTDL v2 Property schema may not contain an Array")

    def schema_children(self, node: RawElement) -> list[RawElement | str]:
        """The schemas directly nested in a complex schema."""
        if node.cls == "Array":
            return list(node.refs.get("elementSchema", []))
        if node.cls == "Map":
            out: list[RawElement | str] = []
            for mv in self._targets(node, "mapValue"):
                out.extend(mv.refs.get("schema", []))
            return out
        if node.cls == "Object":
            out = []
            for f in self._targets(node, "fields"):
                out.extend(f.refs.get("schema", []))
            return out
        return []

    def schema_depth(self, ref: RawElement | str, stack: list[int]) -> int:
        """Nesting depth of complex schemas under ``ref``; -1 when it is recursive."""
        node = self.deref(ref)
        if node is None:
            return 0
        key = id(node)
        if key in stack:
            return -1
        if key in self._depth_memo:
            return self._depth_memo[key]
        stack.append(key)
        d = 0
        for child in self.schema_children(node):
            cd = self.schema_depth(child, stack)
            if cd < 0:
                stack.pop()
                return -1
            d = max(d, cd)
        stack.pop()
        self._depth_memo[key] = d + 1
        return d + 1

    def has_array(self, ref: RawElement | str, stack: list[int]) -> bool:
        """True when an Array occurs anywhere in the schema (v2 geospatial types count)."""
        if isinstance(ref, str) and ref.startswith("dtmi:standard:schema:geospatial:"):
            return True
        node = self.deref(ref)
        if node is None or id(node) in stack:
            return False
        if node.cls == "Array":
            return True
        stack.append(id(node))
        found = any(self.has_array(c, stack) for c in self.schema_children(node))
        stack.pop()
        return found

    def _enum(self, el: RawElement) -> None:
        values = self._targets(el, "enumValues")
        self._unique_names(el, "enumValues", values)
        vs = el.refs.get("valueSchema", [])
        want: type = str
        if vs and isinstance(vs[0], str) and vs[0].split(";")[0].endswith(":integer"):
            want = int
        seen: set[object] = set()
        for ev in values:
            v = ev.literals.get("enumValue")
            if v is None:
                continue
            if not isinstance(v, want) or isinstance(v, bool):
                self.err(ERR.BAD_VALUE, ev.id, "enumValue",
                         f"enumValue must be {'an integer' if want is int else 'a string'}, "
                         "as the Enum's valueSchema says")
            elif v in seen:
                self.err(ERR.NOT_UNIQUE, el.id, "enumValues",
                         f"enumValue {v!r} is used more than once")
            seen.add(v)

    def _semantic(self, el: RawElement) -> None:
        sem = el.semantic_types[0]
        units = el.refs.get("unit", [])
        if units and isinstance(units[0], str):
            unit = el.scope.units.get(units[0])
            if unit is None or unit not in units_for(sem, el.version):
                self.err(ERR.UNIT_MISMATCH, el.id, "unit",
                         f"unit '{unit}' is not a unit of semantic type '{sem}'")
        mm = metamodel(el.version)
        for ref in el.refs.get("schema", []):
            ok = isinstance(ref, str) and ref in mm.instances and (
                mm.instances[ref][1] in mm.numeric_schemas
            )
            if not ok:
                self.err(ERR.SCHEMA_NOT_NUMERIC, el.id, "schema",
                         f"semantic type '{sem}' requires a numeric schema")
