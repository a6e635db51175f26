"""Safe control: the command gate and the audit log."""

from processtwin.control.audit import AuditLog, verify
from processtwin.control.gate import (
    CommandGate,
    CommandRequest,
    GateConfig,
    GateContext,
    InputLimit,
    Mode,
    Verdict,
)

__all__ = [
    "AuditLog",
    "CommandGate",
    "CommandRequest",
    "GateConfig",
    "GateContext",
    "InputLimit",
    "Mode",
    "Verdict",
    "verify",
]
