"""OPC UA StatusCodes mapped onto our quality codes (:mod:`processtwin.core.quality`).

The severity bits of a StatusCode decide the level (Good*, Uncertain*, Bad*; OPC UA Part 4,
7.39); the code itself decides the reason. Communication failures (``BadNotConnected``,
``BadCommunicationError``, ``BadNoCommunication``, a closed channel, a timeout, a server
shutting down) are *bad, comm + stale*: the value is not what the plant is doing now.
The info bits in the low 16 bits (overflow, limit bits) are ignored.

Example:
    >>> from asyncua import ua
    >>> quality_of(ua.StatusCodes.BadNotConnected)
    (<Quality.BAD: 2>, <Reason.STALE|COMM: 1088>)
    >>> quality_of(ua.StatusCodes.UncertainEngineeringUnitsExceeded)
    (<Quality.UNCERTAIN: 1>, <Reason.RANGE: 2>)
    >>> status_name(ua.StatusCodes.BadSensorFailure)
    'BadSensorFailure'
"""

from __future__ import annotations

from asyncua import ua
from asyncua.ua.status_codes import code_to_name_doc

from processtwin.core.quality import Quality, Reason

__all__ = ["COMM_CODES", "quality_of", "status_name"]

_S = ua.StatusCodes

#: Codes that say "no live connection to the value" (bad: comm + stale).
COMM_CODES: frozenset[int] = frozenset({
    _S.BadNotConnected, _S.BadCommunicationError, _S.BadNoCommunication,
    _S.BadServerNotConnected, _S.BadConnectionClosed, _S.BadConnectionRejected,
    _S.BadDisconnect, _S.BadTimeout, _S.BadRequestTimeout, _S.BadShutdown,
    _S.BadServerHalted, _S.BadSecureChannelClosed, _S.BadSessionClosed,
    _S.BadTcpInternalError, _S.BadSubscriptionIdInvalid,
})

_UNCERTAIN: dict[int, Reason] = {
    _S.UncertainLastUsableValue: Reason.STALE,
    _S.UncertainNoCommunicationLastUsableValue: Reason.STALE | Reason.COMM,
    _S.UncertainEngineeringUnitsExceeded: Reason.RANGE,
    _S.UncertainSubstituteValue: Reason.IMPUTED,
    _S.UncertainInitialValue: Reason.IMPUTED,
    _S.UncertainSensorNotAccurate: Reason.SOURCE,
    _S.UncertainSubNormal: Reason.SOURCE,
}

_BAD: dict[int, Reason] = {
    _S.BadWaitingForInitialData: Reason.STALE,
    _S.BadOutOfService: Reason.SOURCE | Reason.STALE,
    _S.BadNodeIdUnknown: Reason.UNKNOWN,
    _S.BadNodeIdInvalid: Reason.UNKNOWN,
    _S.BadTypeMismatch: Reason.TYPE,
    _S.BadOutOfRange: Reason.RANGE,
}


def quality_of(code: int | ua.StatusCode) -> tuple[Quality, Reason]:
    """Quality level and reason bits for an OPC UA StatusCode (int or ``ua.StatusCode``)."""
    value = code.value if isinstance(code, ua.StatusCode) else int(code)
    head = value & 0xFFFF0000
    severity = (value >> 30) & 0b11
    if severity == 0:
        return Quality.GOOD, Reason.NONE
    if severity == 1:
        return Quality.UNCERTAIN, _UNCERTAIN.get(head, Reason.SOURCE)
    if head in COMM_CODES:
        return Quality.BAD, Reason.COMM | Reason.STALE
    return Quality.BAD, _BAD.get(head, Reason.SOURCE)


def status_name(code: int | ua.StatusCode) -> str:
    """The symbolic name of a StatusCode (``0x...`` for codes the spec does not list)."""
    value = code.value if isinstance(code, ua.StatusCode) else int(code)
    name, _ = code_to_name_doc.get(value & 0xFFFF0000, (None, None))
    return name or f"0x{value:08X}"
