"""The parser's internal representation of DTDL elements, before resolution.

A :class:`RawElement` is one JSON object that defines an element; object-valued properties
hold either inline :class:`RawElement` children or IRIs (references to other elements or
standard elements such as ``dtmi:dtdl:instance:Schema:double;3``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from processtwin.dtdl.context import Scope

__all__ = ["RawElement"]


@dataclass(eq=False, slots=True)
class RawElement:
    """One element as written, with its literal and object-valued properties."""

    id: str
    cls: str
    scope: Scope
    parent: RawElement | None
    parent_prop: str | None
    partition: str
    id_given: bool
    literals: dict[str, Any] = field(default_factory=dict)
    refs: dict[str, list[RawElement | str]] = field(default_factory=dict)
    semantic_types: list[str] = field(default_factory=list)
    adjuncts: list[str] = field(default_factory=list)
    undefined_types: list[str] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> int:
        """The DTDL version the element is written in."""
        return self.scope.version

    def children(self) -> list[RawElement]:
        """Inline child elements, in property order."""
        return [r for vals in self.refs.values() for r in vals if isinstance(r, RawElement)]
