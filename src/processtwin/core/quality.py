"""Quality codes that travel with every value.

A value's quality is one of three levels (as in OPC UA status codes) plus a bit set of
reasons that say *why* it is not good, or that it was imputed. Both are small integers so
they travel in NumPy columns.

Example:
    >>> from processtwin.core.quality import Quality, Reason, describe
    >>> describe(Quality.BAD, Reason.RANGE | Reason.ROC)
    'bad: range, roc'
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

__all__ = ["Quality", "Reason", "describe", "from_opcua_status"]


class Quality(IntEnum):
    """The level of trust in one value."""

    GOOD = 0
    UNCERTAIN = 1
    BAD = 2


class Reason(IntFlag):
    """Why a value is not good (bits can combine)."""

    NONE = 0
    SOURCE = 1 << 0  # the source itself reported a non-good status
    RANGE = 1 << 1  # outside the point's hard range
    ROC = 1 << 2  # rate of change above the point's limit
    FLATLINE = 1 << 3  # stuck: unchanged for too long
    NAN = 1 << 4  # not a number / infinite
    TYPE = 1 << 5  # not convertible to a number
    STALE = 1 << 6  # the source is dead or the value is too old
    IMPUTED = 1 << 7  # filled in, not measured
    OUTLIER = 1 << 8  # statistical outlier
    DRIFT = 1 << 9  # slow bias detected
    COMM = 1 << 10  # communication failure reported by the source
    UNKNOWN = 1 << 11  # no binding knows the tag


def describe(quality: int, reason: int) -> str:
    """Human-readable text for a quality code and its reason bits."""
    name = Quality(quality).name.lower()
    names = [r.name.lower() for r in Reason if r and r.name and int(reason) & r]
    return name if not names else f"{name}: {', '.join(names)}"


def from_opcua_status(code: int) -> tuple[Quality, Reason]:
    """Map an OPC UA StatusCode value onto our quality.

    The two top bits of a StatusCode give its severity: 00 good, 01 uncertain, 10/11 bad
    (OPC UA Part 4, 7.39). Communication failures and "no data" keep a specific reason.
    """
    severity = (code >> 30) & 0b11
    if severity == 0:
        return Quality.GOOD, Reason.NONE
    if severity == 1:
        return Quality.UNCERTAIN, Reason.SOURCE
    comm_codes = {0x80050000, 0x80310000, 0x808A0000, 0x80AE0000, 0x80AD0000}
    reason = Reason.COMM if (code & 0xFFFF0000) in comm_codes else Reason.SOURCE
    return Quality.BAD, reason
