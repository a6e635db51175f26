"""Digital Twin Model Identifiers (DTMI): syntax, parts and the rules DTDL adds.

A DTMI looks like ``dtmi:com:example:Thermostat;1`` with an optional minor version
(``;1.2``, DTDL v3 only) and an optional fragment (``#part``)::

    >>> d = Dtmi.parse("dtmi:foo:bar;3.14#frag")
    >>> (d.major_version, d.minor_version, d.versionless, d.fragment)
    (3, 14, 'dtmi:foo:bar#frag', '#frag')
    >>> Dtmi.parse("dtmi:foo::bar;1") is None
    True
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["RESERVED_PREFIXES", "Dtmi", "is_dtmi", "looks_like_dtmi", "user_id_problem"]

_SEGMENT = r"[A-Za-z_](?:[A-Za-z0-9_]*[A-Za-z0-9])?"
_DTMI_RE = re.compile(
    rf"^dtmi:(?P<path>{_SEGMENT}(?::{_SEGMENT})*)"
    r"(?:;(?P<major>[1-9][0-9]{0,8})(?:\.(?P<minor>[1-9][0-9]{0,5}))?)?"
    rf"(?P<fragment>#(?:{_SEGMENT})?)?$"
)

#: Identifier prefixes that only the language itself may define.
RESERVED_PREFIXES: tuple[str, ...] = ("dtmi:dtdl:", "dtmi:standard:")

#: Maximum length of any DTMI the parser accepts.
MAX_DTMI_LENGTH = 4096


@dataclass(frozen=True, slots=True)
class Dtmi:
    """A syntactically valid DTMI split into its parts."""

    text: str
    labels: tuple[str, ...]
    major_version: int
    minor_version: int
    fragment: str

    @classmethod
    def parse(cls, text: str) -> Dtmi | None:
        """Return the parsed DTMI, or ``None`` when ``text`` is not a valid DTMI."""
        if len(text) > MAX_DTMI_LENGTH:
            return None
        m = _DTMI_RE.match(text)
        if m is None:
            return None
        major = int(m.group("major")) if m.group("major") else 0
        minor = int(m.group("minor")) if m.group("minor") else 0
        return cls(
            text=text,
            labels=tuple(m.group("path").split(":")),
            major_version=major,
            minor_version=minor,
            fragment=m.group("fragment") or "",
        )

    @property
    def versionless(self) -> str:
        """The identifier without its version (the fragment is kept)."""
        return "dtmi:" + ":".join(self.labels) + self.fragment

    @property
    def complete_version(self) -> float:
        """Major version plus minor version in millionths (``3.14`` -> 3.000014)."""
        return self.major_version + self.minor_version / 1_000_000

    @property
    def has_version(self) -> bool:
        """True when the identifier carries a version."""
        return self.major_version > 0

    @property
    def is_reserved(self) -> bool:
        """True when a label or the fragment starts with ``_`` (reserved for the system)."""
        return any(label.startswith("_") for label in self.labels) or self.fragment.startswith(
            "#_"
        )


def is_dtmi(text: object) -> bool:
    """True when ``text`` is a string holding a valid DTMI."""
    return isinstance(text, str) and Dtmi.parse(text) is not None


def looks_like_dtmi(text: str) -> bool:
    """True when ``text`` uses the ``dtmi:`` scheme, valid or not."""
    return text.startswith("dtmi:")


def user_id_problem(text: str, version: int) -> str | None:
    """Why ``text`` may not identify a user-defined element in DTDL ``version``, or ``None``."""
    d = Dtmi.parse(text)
    if d is None:
        return f"'{text}' is not a valid DTMI"
    if d.is_reserved:
        return f"'{text}' has a label starting with '_', which is reserved"
    if text.startswith(RESERVED_PREFIXES):
        return f"'{text}' starts with a reserved prefix"
    if version == 2:
        if not d.has_version:
            return f"'{text}' has no version, which DTDL v2 requires"
        if d.minor_version:
            return f"'{text}' has a minor version, which DTDL v2 does not allow"
    return None
