"""Command values that only the safety gate can create.

A :class:`ReleasedWrite` is the *only* thing a connector's ``write`` accepts. Its
constructor demands a token that lives in this module and is used by
:mod:`processtwin.control.gate` alone (a test checks that no other module names it), so no
code path can write to the plant without a gate verdict.

Example:
    >>> ReleasedWrite("r1", "F", 10.0, verdict_id="v1", token=object())
    Traceback (most recent call last):
    ...
    PermissionError: a ReleasedWrite can only be created by the command gate
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ReleasedWrite"]

_GATE_TOKEN = object()


@dataclass(frozen=True, slots=True, init=False)
class ReleasedWrite:
    """A write the gate has released: twin, input name, value and the verdict it came from."""

    twin: str
    name: str
    value: float
    verdict_id: str

    def __init__(self, twin: str, name: str, value: float, *, verdict_id: str,
                 token: object) -> None:
        if token is not _GATE_TOKEN:
            raise PermissionError("a ReleasedWrite can only be created by the command gate")
        object.__setattr__(self, "twin", twin)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "value", float(value))
        object.__setattr__(self, "verdict_id", verdict_id)
