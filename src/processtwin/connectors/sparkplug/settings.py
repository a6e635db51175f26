"""Typed, frozen settings of the Sparkplug B host application.

Sparkplug 3.0 asks a host to connect with a clean start and no session expiry; those are
the defaults of :class:`~processtwin.connectors.mqtt.settings.BrokerSettings`, and only a
benchmark should change them. Twin ids come from ``node_twin``/``device_twin`` templates
over ``{group}``, ``{edge}`` and ``{device}``; ``.``, ``/`` and white space in the result
become ``_`` (twin ids hold none of them). Point names are the metric names with ``.`` as
``_`` (Sparkplug's ``/`` folders stay).

Example:
    >>> s = SparkplugSettings(name="spb", host_id="ptwin")
    >>> s.twin_id("plant", "edge.1", "pump 3")
    'plant-edge_1-pump_3'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from processtwin.connectors.mqtt.settings import BrokerSettings
from processtwin.errors import InvalidInputError

__all__ = ["SparkplugSettings", "point_name"]

_BAD = re.compile(r"[./\s]")


def point_name(metric: str) -> str:
    """The point name of a metric: its name with ``.`` written ``_``."""
    return metric.replace(".", "_")


def _id_part_ok(s: str) -> bool:
    return bool(s) and not any(c in s for c in "/+#\x00")


@dataclass(frozen=True, slots=True, kw_only=True)
class SparkplugSettings:
    """One Sparkplug B host application on one broker."""

    name: str
    host_id: str
    broker: BrokerSettings = field(default_factory=BrokerSettings)
    groups: tuple[str, ...] = ()  # () subscribes to every group
    node_twin: str = "{group}-{edge}"
    device_twin: str = "{group}-{edge}-{device}"
    rebirth_interval_s: float = 5.0  # at most one rebirth request per node this often
    command_qos: int = 0  # Sparkplug sends NCMD/DCMD at QoS 0
    max_queued: int = 200_000
    batch_rows: int = 50_000
    write_timeout_s: float = 5.0

    def __post_init__(self) -> None:
        problems = []
        if not self.name:
            problems.append("name is empty")
        if not _id_part_ok(self.host_id):
            problems.append(f"host_id {self.host_id!r}: non-empty, no '/', '+' or '#'")
        problems += [f"group {g!r}: non-empty, no '/', '+' or '#'" for g in self.groups
                     if not _id_part_ok(g)]
        for tmpl, keys in ((self.node_twin, ("group", "edge")),
                           (self.device_twin, ("group", "edge", "device"))):
            try:
                tmpl.format(**{k: "x" for k in keys})
            except (KeyError, IndexError, ValueError) as exc:
                problems.append(f"twin template {tmpl!r}: {exc!r} (use {{group}}, {{edge}}"
                                ", {device})")
        if self.rebirth_interval_s < 0 or self.write_timeout_s <= 0:
            problems.append("rebirth_interval_s must be >= 0 and write_timeout_s > 0")
        if self.command_qos not in (0, 1, 2):
            problems.append(f"command_qos {self.command_qos}")
        if self.max_queued < 1 or self.batch_rows < 1:
            problems.append("max_queued and batch_rows must be >= 1")
        if problems:
            raise InvalidInputError(f"sparkplug source {self.name!r}: " + "; ".join(problems))

    def twin_id(self, group: str, edge: str, device: str | None) -> str:
        """The twin that holds a node's (``device`` None) or a device's points."""
        if device is None:
            raw = self.node_twin.format(group=group, edge=edge)
        else:
            raw = self.device_twin.format(group=group, edge=edge, device=device)
        return _BAD.sub("_", raw)

    def subscriptions(self) -> list[tuple[str, int]]:
        if not self.groups:
            return [("spBv1.0/#", 1)]
        return [(f"spBv1.0/{g}/#", 1) for g in self.groups] + [
            (f"spBv1.0/STATE/{self.host_id}", 1)]
