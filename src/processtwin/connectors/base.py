"""The connector seam: every plant protocol implements :class:`Connector`.

A connector subscribes to its source and hands columnar batches (plus the dead letters of
what it could not map or convert) to a :data:`Sink`. It writes to the plant only through
:meth:`Connector.write`, which takes a :class:`~processtwin.core.commands.ReleasedWrite` that
only the command gate can create. Each connector records its availability and last error
(:class:`ConnectorStatus`), logging once on failure and once on recovery.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from processtwin.core.batch import Batch, DeadLetter
from processtwin.core.commands import ReleasedWrite

__all__ = ["Connector", "ConnectorManifest", "ConnectorStatus", "ReleasedWrite", "Sink"]

Sink = Callable[[Batch, list[DeadLetter]], Awaitable[None]]


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectorManifest:
    """What a connector kind is and can do."""

    kind: str
    read: bool = True
    subscribe: bool = True
    write: bool = False
    requirements: tuple[str, ...] = ()


@dataclass(slots=True)
class ConnectorStatus:
    """Availability of one source, as its coordinator last saw it."""

    connected: bool = False
    last_error: str | None = None
    last_update: float | None = None
    reconnects: int = 0
    bound: int = 0
    unbound: list[str] = field(default_factory=list)


@runtime_checkable
class Connector(Protocol):
    """A plant connection."""

    manifest: ConnectorManifest
    status: ConnectorStatus

    async def start(self, sink: Sink) -> None:
        """Connect and start delivering batches to ``sink``; returns once running."""

    async def stop(self) -> None:
        """Disconnect and release everything; idempotent."""

    async def write(self, command: ReleasedWrite) -> None:
        """Write a gate-released command to the plant; raises ConnectorError on failure."""
