"""Browse an OPC UA address space and resolve bindings given as browse paths.

A binding names its node either by node id (``ns=2;s=CSTR.TT101``) or by browse path from
the Root node (``0:Objects/2:CSTR/2:TT101``, each element ``namespace-index:BrowseName``).
All paths of a source are resolved in one TranslateBrowsePathsToNodeIds request.

:func:`browse` walks the hierarchy below a node (Objects by default) and returns a tree of
:class:`BrowsedNode` with data types, engineering units and ranges (the ``EngineeringUnits``
and ``EURange`` properties of analog items, when present). :func:`bindings_from_tree` turns
the numeric variables of a tree into binding entries ready for a source's ``bindings:``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from asyncua import Client, Node, ua

from processtwin.errors import ConnectorError, InvalidInputError

__all__ = ["BrowsedNode", "bindings_from_tree", "browse", "is_browse_path", "parse_browse_path",
           "resolve_nodes"]

_NODE_ID = re.compile(r"^(nsu=[^;]+;|ns=\d+;)?[isgb]=", re.IGNORECASE)
_PATH_ELEMENT = re.compile(r"^\d+:[^/]+$")
NUMERIC_TYPES = frozenset({"Boolean", "SByte", "Byte", "Int16", "UInt16", "Int32", "UInt32",
                           "Int64", "UInt64", "Float", "Double", "Number", "Integer",
                           "UInteger", "Duration"})


def is_browse_path(ref: str) -> bool:
    """True if ``ref`` is a browse path rather than a node id.

    >>> is_browse_path("0:Objects/2:CSTR/2:TT101"), is_browse_path("ns=2;s=CSTR/TT101")
    (True, False)
    """
    return not _NODE_ID.match(ref.strip())


def parse_browse_path(ref: str) -> list[str]:
    """The elements of a browse path, each checked to be ``index:Name``.

    >>> parse_browse_path("/0:Objects/2:CSTR")
    ['0:Objects', '2:CSTR']
    """
    parts = [p for p in ref.strip().strip("/").split("/") if p]
    bad = [p for p in parts if not _PATH_ELEMENT.match(p)]
    if not parts or bad:
        raise InvalidInputError(f"browse path {ref!r}: elements must look like "
                                f"'2:Name' (bad: {bad or ref!r})")
    return parts


async def resolve_nodes(client: Client, refs: list[str]) -> dict[str, ua.NodeId | None]:
    """Map each reference (node id or browse path) to a node id; ``None`` if not found."""
    out: dict[str, ua.NodeId | None] = {}
    paths: list[str] = []
    for ref in refs:
        if is_browse_path(ref):
            paths.append(ref)
        else:
            try:
                out[ref] = ua.NodeId.from_string(ref)
            except (ValueError, ua.UaError) as exc:
                raise InvalidInputError(f"bad node id {ref!r}: {exc}") from exc
    if paths:
        parsed = [parse_browse_path(p) for p in paths]
        try:
            found = await client.nodes.root.get_children_by_path(
                parsed, raise_on_partial_error=False)
        except (TimeoutError, OSError, ua.UaError) as exc:
            raise ConnectorError(f"cannot resolve browse paths: {exc!r}") from exc
        for ref, targets in zip(paths, found, strict=True):
            out[ref] = targets[0].nodeid if targets else None
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class BrowsedNode:
    """One node of a browsed address space."""

    node_id: str
    path: str
    browse_name: str
    display_name: str
    node_class: str
    data_type: str | None = None
    unit: str | None = None
    eu_range: tuple[float, float] | None = None
    writable: bool | None = None
    description: str = ""
    children: tuple[BrowsedNode, ...] = field(default=())

    def walk(self) -> list[BrowsedNode]:
        """This node and all below it, depth first."""
        out = [self]
        for c in self.children:
            out.extend(c.walk())
        return out


class _Browser:
    def __init__(self, client: Client, include_ns0: bool) -> None:
        self.client = client
        self.include_ns0 = include_ns0
        self._type_names: dict[ua.NodeId, str] = {}

    async def type_name(self, nid: ua.NodeId) -> str:
        if nid not in self._type_names:
            try:
                qn = await self.client.get_node(nid).read_browse_name()
                self._type_names[nid] = qn.Name or nid.to_string()
            except ua.UaError:
                self._type_names[nid] = nid.to_string()
        return self._type_names[nid]

    async def variable_details(self, node: Node) -> dict[str, Any]:
        attrs = await node.read_attributes([ua.AttributeIds.DataType,
                                            ua.AttributeIds.UserAccessLevel,
                                            ua.AttributeIds.Description])
        dtype = attrs[0].Value.Value if attrs[0].Value is not None else None
        access = attrs[1].Value.Value if attrs[1].Value is not None else None
        desc = attrs[2].Value.Value if attrs[2].Value is not None else None
        details: dict[str, Any] = {
            "data_type": await self.type_name(dtype) if isinstance(dtype, ua.NodeId) else None,
            "writable": bool(access & ua.AccessLevel.CurrentWrite.mask)
            if isinstance(access, int) else None,
            "description": desc.Text or "" if isinstance(desc, ua.LocalizedText) else "",
        }
        for prop in await node.get_children_descriptions(refs=ua.ObjectIds.HasProperty):
            name = prop.BrowseName.Name
            if name not in ("EngineeringUnits", "EURange"):
                continue
            value = await self.client.get_node(prop.NodeId).read_value()
            if isinstance(value, ua.EUInformation):
                text = value.DisplayName.Text if value.DisplayName else None
                details["unit"] = text or None
            elif isinstance(value, ua.Range):
                details["eu_range"] = (float(value.Low), float(value.High))
        return details

    async def visit(self, node: Node, path: str, depth: int) -> BrowsedNode:
        qn, dn, nc = await node.read_attributes([ua.AttributeIds.BrowseName,
                                                 ua.AttributeIds.DisplayName,
                                                 ua.AttributeIds.NodeClass])
        bname: ua.QualifiedName = qn.Value.Value
        ncls = ua.NodeClass(nc.Value.Value)
        details = await self.variable_details(node) if ncls == ua.NodeClass.Variable else {}
        children: list[BrowsedNode] = []
        if depth > 0:
            refs = await node.get_children_descriptions()
            for ref in refs:
                if ref.ReferenceTypeId == ua.NodeId(ua.ObjectIds.HasProperty):
                    continue
                child_id = ref.NodeId
                if not self.include_ns0 and child_id.NamespaceIndex == 0:
                    continue
                child_path = f"{path}/{ref.BrowseName.to_string()}"
                children.append(await self.visit(self.client.get_node(child_id), child_path,
                                                 depth - 1))
        return BrowsedNode(node_id=node.nodeid.to_string(), path=path,
                           browse_name=bname.to_string(), display_name=dn.Value.Value.Text or "",
                           node_class=ncls.name, children=tuple(children), **details)


async def browse(client: Client, root: str = "0:Objects", *, depth: int = 3,
                 include_ns0: bool = False) -> BrowsedNode:
    """The hierarchy below ``root`` (node id or browse path), ``depth`` levels deep.

    Children in namespace 0 (the standard Server object and its kin) are left out unless
    ``include_ns0``.
    """
    if depth < 0:
        raise InvalidInputError("depth must be >= 0")
    found = (await resolve_nodes(client, [root]))[root]
    if found is None:
        raise InvalidInputError(f"no node at {root!r}")
    path = "/".join(parse_browse_path(root)) if is_browse_path(root) else root
    try:
        return await _Browser(client, include_ns0).visit(client.get_node(found), path, depth)
    except (TimeoutError, OSError, ua.UaError) as exc:
        raise ConnectorError(f"browse {root!r} failed: {exc!r}") from exc


def _point_name(browse_name: str) -> str:
    name = browse_name.split(":", 1)[-1]
    return re.sub(r"[^A-Za-z0-9_]", "_", name) or "value"


def bindings_from_tree(tree: BrowsedNode, twin: str, *, by: str = "path") -> list[dict[str, Any]]:
    """Binding entries for every numeric variable of ``tree`` (``by``: ``path`` or ``id``).

    Each entry has ``node``, ``twin``, ``point`` and, where the server says, ``unit``,
    ``lo``/``hi`` (from ``EURange``) and ``description``; ready for a source's ``bindings:``.
    """
    if by not in ("path", "id"):
        raise InvalidInputError("by must be 'path' or 'id'")
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for n in tree.walk():
        if n.node_class != "Variable" or n.data_type not in NUMERIC_TYPES:
            continue
        point = _point_name(n.browse_name)
        base, i = point, 2
        while point in seen:
            point, i = f"{base}_{i}", i + 1
        seen.add(point)
        entry: dict[str, Any] = {"node": n.path if by == "path" else n.node_id,
                                 "twin": twin, "point": point}
        if n.unit:
            entry["unit"] = n.unit
        if n.eu_range:
            entry["lo"], entry["hi"] = n.eu_range
        if n.description:
            entry["description"] = n.description
        out.append(entry)
    return out
