"""Topic templates: MQTT topic filters whose levels may name the twin and the point.

A template is an MQTT topic filter in which a whole level may be ``{twin}`` or ``{point}``;
those levels subscribe as ``+`` and, on a match, give the twin id or the point name. ``+``
and a final ``#`` keep their MQTT meaning. A template without placeholders is a plain topic
(or filter) bound to a fixed point by its route.

With ``shared_group`` the subscription becomes ``$share/{group}/{filter}`` (MQTT 5 shared
subscription; Mosquitto also grants it to 3.1.1 clients): the broker hands each message to
one member of the group, which spreads the load across twin workers.

Example:
    >>> t = TopicTemplate.parse("plant/{twin}/{point}")
    >>> t.filter, t.match("plant/r1/T_R")
    ('plant/+/+', {'twin': 'r1', 'point': 'T_R'})
    >>> t.match("plant/r1/T_R/extra") is None
    True
    >>> shared_filter("plant/+/+", "workers")
    '$share/workers/plant/+/+'
"""

from __future__ import annotations

from dataclasses import dataclass

from processtwin.errors import InvalidInputError

__all__ = ["PLACEHOLDERS", "TopicTemplate", "covers", "shared_filter", "subscription_set"]

PLACEHOLDERS = ("twin", "point")


def shared_filter(topic_filter: str, group: str | None) -> str:
    """The subscription for ``topic_filter``, shared in ``group`` when one is given."""
    if not group:
        return topic_filter
    if any(c in group for c in "/+#") or not group.strip():
        raise InvalidInputError(f"shared subscription group {group!r}: no '/', '+' or '#'")
    return f"$share/{group}/{topic_filter}"


def covers(outer: str, inner: str) -> bool:
    """True when every topic that matches filter ``inner`` also matches filter ``outer``.

    >>> covers("a/+/#", "a/b/c"), covers("a/+", "a/#"), covers("a/#", "a")
    (True, False, True)
    """
    o, i = outer.split("/"), inner.split("/")
    for k, lo in enumerate(o):
        if lo == "#":
            return True
        if k >= len(i) or i[k] == "#":
            return False
        if lo != "+" and lo != i[k]:  # a literal covers only itself (not '+')
            return False
    return len(i) == len(o)


def subscription_set(filters: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Drop filters another filter covers (raising its QoS to theirs), keeping order.

    A broker may deliver a message once per matching subscription (MQTT 5, Mosquitto
    does), so overlapping filters would ingest it twice.

    >>> subscription_set([("a/b", 2), ("a/+", 0), ("c/#", 1), ("c/d/#", 0)])
    [('a/+', 2), ('c/#', 1)]
    """
    names: list[str] = []
    qos: list[int] = []
    for f, q in filters:
        outer = next((k for k, g in enumerate(names) if covers(g, f)), None)
        if outer is not None:
            qos[outer] = max(qos[outer], q)
            continue
        inner = [k for k, g in enumerate(names) if covers(f, g)]
        q = max([q, *(qos[k] for k in inner)])
        names = [g for k, g in enumerate(names) if k not in inner]
        qos = [x for k, x in enumerate(qos) if k not in inner]
        names.append(f)
        qos.append(q)
    return list(zip(names, qos, strict=True))


@dataclass(frozen=True, slots=True)
class TopicTemplate:
    """A parsed template: ``filter`` to subscribe, ``match`` to read a delivered topic."""

    text: str
    filter: str
    levels: tuple[str, ...]
    slots: tuple[tuple[str, int], ...]
    multi_tail: bool

    @classmethod
    def parse(cls, text: str) -> TopicTemplate:
        if not text or "\x00" in text:
            raise InvalidInputError(f"topic template {text!r}: empty or contains NUL")
        if text.startswith("$share/"):
            raise InvalidInputError(
                f"topic template {text!r}: give the shared group as shared_group, not in the "
                "topic")
        levels = tuple(text.split("/"))
        slots: list[tuple[str, int]] = []
        filt: list[str] = []
        for i, lv in enumerate(levels):
            if lv.startswith("{") and lv.endswith("}"):
                name = lv[1:-1]
                if name not in PLACEHOLDERS:
                    raise InvalidInputError(
                        f"topic template {text!r}: unknown placeholder {{{name}}} (use "
                        "{twin}, {point}, '+' or '#')")
                if any(n == name for n, _ in slots):
                    raise InvalidInputError(f"topic template {text!r}: {{{name}}} twice")
                slots.append((name, i))
                filt.append("+")
                continue
            if "{" in lv or "}" in lv:
                raise InvalidInputError(
                    f"topic template {text!r}: a placeholder must be a whole level ({lv!r})")
            if lv == "#" and i != len(levels) - 1:
                raise InvalidInputError(f"topic template {text!r}: '#' must be the last level")
            if ("#" in lv or "+" in lv) and lv not in ("#", "+"):
                raise InvalidInputError(
                    f"topic template {text!r}: '+' and '#' must be whole levels ({lv!r})")
            filt.append(lv)
        return cls(text=text, filter="/".join(filt), levels=levels, slots=tuple(slots),
                   multi_tail=levels[-1] == "#")

    @property
    def wildcard(self) -> bool:
        return any(lv in ("+", "#") for lv in self.filter.split("/"))

    def match(self, topic: str) -> dict[str, str] | None:
        """The placeholder values if ``topic`` matches, else ``None``."""
        parts = topic.split("/")
        levels = self.levels
        if self.multi_tail:
            # '#' also matches the parent level itself ("a/#" matches "a")
            if len(parts) < len(levels) - 1:
                return None
            fixed = levels[:-1]
        else:
            if len(parts) != len(levels):
                return None
            fixed = levels
        first = levels[0]
        if topic[:1] == "$" and (first in ("+", "#") or first[:1] == "{"):
            return None  # MQTT 4.7.2: wildcards never match topics starting with '$'
        for lv, part in zip(fixed, parts, strict=False):
            if lv == "+" or lv[:1] == "{":
                continue
            if lv != part:
                return None
        out: dict[str, str] = {}
        for name, i in self.slots:
            out[name] = parts[i]
        return out
