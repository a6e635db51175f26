"""The pure domain core: points, batches, quality and live state. No I/O lives here."""

from processtwin.core.batch import Batch, BatchBuilder, DeadLetter
from processtwin.core.points import PointKind, PointSpec, PointTable
from processtwin.core.quality import Quality, Reason, describe, from_opcua_status
from processtwin.core.state import LiveState, PointValue

__all__ = [
    "Batch",
    "BatchBuilder",
    "DeadLetter",
    "LiveState",
    "PointKind",
    "PointSpec",
    "PointTable",
    "PointValue",
    "Quality",
    "Reason",
    "describe",
    "from_opcua_status",
]
