"""Sparkplug B topic namespace (specification 4.1).

``spBv1.0/{group}/{type}/{edge}[/{device}]`` with ``type`` one of NBIRTH, NDATA, NDEATH,
NCMD (edge node level, no device) or DBIRTH, DDATA, DDEATH, DCMD (device level), and
``spBv1.0/STATE/{host_id}`` for host applications.

Example:
    >>> parse_topic("spBv1.0/plant/DDATA/edge1/pump3")
    SpbTopic(kind='DDATA', group='plant', edge='edge1', device='pump3')
    >>> parse_topic("spBv1.0/plant/NDATA/edge1/pump3")
    'invalid: NDATA topic with a device level'
    >>> node_key("plant", "edge1", None), node_key("plant", "edge1", "pump3")
    ('plant/edge1', 'plant/edge1/pump3')
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEVICE_TYPES", "NAMESPACE", "NODE_TYPES", "SpbTopic", "node_key", "parse_topic",
           "topic_for"]

NAMESPACE = "spBv1.0"
NODE_TYPES = frozenset({"NBIRTH", "NDATA", "NDEATH", "NCMD"})
DEVICE_TYPES = frozenset({"DBIRTH", "DDATA", "DDEATH", "DCMD"})


@dataclass(frozen=True, slots=True)
class SpbTopic:
    """One parsed topic; for STATE, ``group`` holds the host id and edge is empty."""

    kind: str
    group: str
    edge: str
    device: str | None = None

    @property
    def key(self) -> str:
        return node_key(self.group, self.edge, self.device)


def node_key(group: str, edge: str, device: str | None) -> str:
    """``group/edge`` of an edge node, ``group/edge/device`` of a device."""
    return f"{group}/{edge}" if device is None else f"{group}/{edge}/{device}"


def topic_for(kind: str, group: str, edge: str, device: str | None = None) -> str:
    return f"{NAMESPACE}/{group}/{kind}/{edge}" + ("" if device is None else f"/{device}")


def parse_topic(topic: str) -> SpbTopic | str:
    """The topic's parts, or the reason it is not a Sparkplug B topic."""
    parts = topic.split("/")
    if parts[0] != NAMESPACE:
        return f"unknown: not in the {NAMESPACE} namespace"
    if len(parts) == 3 and parts[1] == "STATE":
        return SpbTopic("STATE", parts[2], "")
    if len(parts) not in (4, 5) or not all(parts):
        return "invalid: not spBv1.0/group/type/edge[/device]"
    kind = parts[2]
    if kind in NODE_TYPES:
        if len(parts) != 4:
            return f"invalid: {kind} topic with a device level"
        return SpbTopic(kind, parts[1], parts[3])
    if kind in DEVICE_TYPES:
        if len(parts) != 5:
            return f"invalid: {kind} topic without a device level"
        return SpbTopic(kind, parts[1], parts[3], parts[4])
    return f"invalid: unknown message type {kind[:20]!r}"
