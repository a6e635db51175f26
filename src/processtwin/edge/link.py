"""The edge's MQTT link: one :class:`~processtwin.connectors.mqtt.session.MqttSession`,
connected in the background and re-connected with backoff, with an ``up`` event the sender
waits on. A broker that is down when the edge starts is not an error: the edge buffers
until it comes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

from processtwin.connectors.base import ConnectorStatus
from processtwin.connectors.mqtt.session import MqttSession
from processtwin.connectors.mqtt.settings import BrokerSettings
from processtwin.errors import ConnectorError

__all__ = ["MqttLink"]

_log = logging.getLogger(__name__)


class MqttLink:
    """Publishes to one broker; ``up`` is set while the session is connected."""

    def __init__(self, broker: BrokerSettings, *, name: str, publish_timeout_s: float = 10.0
                 ) -> None:
        self.broker = broker
        self.name = name
        self.publish_timeout_s = publish_timeout_s
        self.status = ConnectorStatus()
        self.up = asyncio.Event()
        self._session: MqttSession | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._connect(), name=f"edge-link-{self.name}")

    async def _connect(self) -> None:
        """First connection: retry with backoff (the session reconnects after that)."""
        delay = self.broker.reconnect_min_s
        logged = False
        while True:
            session = MqttSession(self.broker, name=self.name, status=self.status,
                                  on_message=lambda *_: None, on_connect=self._on_up,
                                  on_disconnect=self._on_down)
            try:
                await session.start()
            except ConnectorError as exc:
                if not logged:
                    _log.warning("edge link %s: %s; buffering and retrying", self.name, exc)
                    logged = True
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
                delay = min(delay * 2, self.broker.reconnect_max_s)
                continue
            self._session = session
            if session.connected:
                self.up.set()
            if logged:
                _log.info("edge link %s: connected", self.name)
            return

    def _on_up(self, session_present: bool) -> None:
        self.up.set()

    def _on_down(self, why: str) -> None:
        self.up.clear()

    async def publish(self, topic: str, payload: bytes, qos: int) -> None:
        session = self._session
        if session is None or not session.connected:
            raise ConnectorError(f"edge link {self.name}: not connected")
        await session.publish(topic, payload, qos, timeout_s=self.publish_timeout_s)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._session is not None:
            await self._session.stop()
            self._session = None
        self.up.clear()
