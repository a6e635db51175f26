"""One MQTT broker session on the asyncio loop: paho-mqtt 2.x driven by socket readiness.

Why paho, driven this way: drain rate of a subscriber that only counts, MQTT 5, from a
pre-filled Mosquitto (200k ~120-byte messages; ``bench/bench_ingest.py``, 2-core machine):

==============================================  ==========  ==========
client                                           QoS 0       QoS 1
==============================================  ==========  ==========
aiomqtt 2.5.1 (``async for`` over messages)      10k/s       8k/s
paho-mqtt 2.2.0, its own thread (``loop_start``)  41k/s       25k/s
paho-mqtt 2.2.0 on asyncio, plain                 41k/s       23k/s
this module (paho 2.2.0 + the two shortcuts)     197k/s      136k/s
==============================================  ==========  ==========

aiomqtt wraps the same paho client and adds a queue hop and a loop wake-up per message, so
paho it is. paho reads a packet with one ``recv`` for the header byte, one per length byte and
one for the body, and builds an MQTT 5 ``Properties`` object, an ``MQTTMessage`` with a
``threading.Condition`` and a topic-filter dispatch per message; :class:`_BufferedClient`
serves the reads from 256 KiB chunks and decodes the plain PUBLISH itself (see there). A
readable socket is drained in one burst, all on the event loop thread: no lock and no thread
hop per message.

Backpressure: :meth:`MqttSession.pause_reading` stops reading the socket (the TCP window
closes and the broker holds or, by its own policy, drops further messages);
:meth:`MqttSession.resume_reading` reads on. With MQTT 5 the owner may acknowledge QoS 1/2
messages itself (``manual_ack``), after they were processed; ``receive_maximum`` then bounds
what the broker sends ahead.

The session connects (in a worker thread: DNS, TCP and TLS handshakes block), re-connects
with exponential backoff and jitter, keeps the connection alive, and reports through
callbacks. The first connection failure raises :class:`~processtwin.errors.ConnectorError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from processtwin.connectors.base import ConnectorStatus
from processtwin.connectors.mqtt.settings import BrokerSettings
from processtwin.errors import ConnectorError

__all__ = ["MqttSession", "Will"]

_log = logging.getLogger(__name__)
_READ_CHUNK = 256 * 1024
_BURST = 4000  # packets per readable event before other tasks get a turn
#: ``(topic, payload, qos, mid)`` of one received PUBLISH; topic bytes may not be UTF-8.
MessageHandler = Callable[[bytes, bytes, int, int], None]


@dataclass(frozen=True, slots=True)
class Will:
    """The message the broker publishes for us when the connection dies uncleanly."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False


class _BufferedClient(paho.Client):
    """paho's client with two receive shortcuts; paho keeps the protocol state machine.

    * ``_sock_recv`` serves paho's 1-byte and n-byte reads from 256 KiB socket reads.
    * ``_handle_publish`` decodes the common PUBLISH (QoS 0/1, a topic, no MQTT 5
      properties) itself and hands ``(topic, payload, qos, mid)`` straight to ``fast``,
      skipping paho's per-message ``Properties``, ``MQTTMessage`` (with its
      ``threading.Condition``) and topic-filter dispatch, about 60 % of paho's time per
      message. Everything else (QoS 2, properties, topic aliases, anything malformed) goes
      through paho unchanged.

    Both override private methods of paho-mqtt 2.2.0, which is pinned exactly for that
    reason; ``tests/connectors/test_mqtt_session.py`` checks them against the real broker.
    """

    _rbuf: bytes = b""
    _rpos: int = 0
    fast: Callable[[bytes, bytes, int, int], None] | None = None
    linger_on_close = False
    lingering: Any = None

    def _sock_recv(self, bufsize: int) -> bytes:
        pos, buf = self._rpos, self._rbuf
        if pos >= len(buf):
            buf = super()._sock_recv(_READ_CHUNK)  # BlockingIOError when nothing is there
            if not buf:
                return buf
            self._rbuf, pos = buf, 0
        end = pos + bufsize
        self._rpos = min(end, len(buf))
        return buf[pos:end]

    def _handle_publish(self) -> MQTTErrorCode:
        fast = self.fast
        header = self._in_packet["command"]
        qos = (header & 0x06) >> 1
        if fast is None or qos == 2:
            return super()._handle_publish()
        packet = self._in_packet["packet"]
        n = len(packet)
        if n < 2:
            return super()._handle_publish()
        tlen = (packet[0] << 8) | packet[1]
        pos = 2 + tlen
        mid = 0
        if qos:
            if pos + 2 > n:
                return super()._handle_publish()
            mid = (packet[pos] << 8) | packet[pos + 1]
            pos += 2
        if self._protocol == MQTTProtocolVersion.MQTTv5:
            if pos >= n or packet[pos] != 0:  # properties present (or malformed): paho's
                return super()._handle_publish()
            pos += 1
        elif pos > n:
            return super()._handle_publish()
        if tlen == 0:  # a topic alias: paho's business
            return super()._handle_publish()
        fast(bytes(packet[2:2 + tlen]), bytes(packet[pos:]), qos, mid)
        if qos == 1 and not self._manual_ack:
            return self._send_puback(mid)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _sock_close(self) -> None:
        # On a clean stop, half-close instead: close() with unread bytes in the receive
        # buffer sends a TCP RST, and a broker that gets one drops what it had not read yet
        # (our last acknowledgements and the DISCONNECT), redelivering those messages.
        sock = self._sock
        if sock is not None and self.linger_on_close:
            self._sock = None
            self._call_socket_close(sock)
            if isinstance(sock, socket.socket):  # (an SSLSocket is one too)
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_WR)
            self.lingering = sock
            return
        super()._sock_close()

    def buffered(self) -> bool:
        """Bytes read from the socket (or decrypted by TLS) but not yet parsed."""
        if self._rpos < len(self._rbuf):
            return True
        pending = getattr(self._sock, "pending", None)
        return bool(pending is not None and pending() > 0)

    def reset_buffer(self) -> None:
        self._rbuf, self._rpos = b"", 0


class MqttSession:
    """A paho client on the running loop: connect, subscribe, publish, ack, pause, stop."""

    def __init__(self, broker: BrokerSettings, *, name: str, status: ConnectorStatus,
                 on_message: MessageHandler, on_connect: Callable[[bool], None] | None = None,
                 on_disconnect: Callable[[str], None] | None = None,
                 on_burst: Callable[[], None] | None = None,
                 will: Callable[[], Will | None] | None = None,
                 manual_ack: bool = False) -> None:
        self.broker = broker
        self.name = name
        self.status = status
        self.client_id = broker.client_id or f"ptwin-{name}-{uuid.uuid4().hex[:8]}"
        self._on_message = on_message
        self._on_connect_cb = on_connect
        self._on_disconnect_cb = on_disconnect
        self._on_burst = on_burst
        self._will = will
        self.manual_ack = manual_ack and broker.protocol == "5"
        self.connected = False
        self.session_present = False
        self.generation = 0  # connection count: acks of an older connection are void
        self._client = self._make_client()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._sock: Any = None
        self._reading = False
        self._writing = False
        self._paused = False
        self._holds: set[str] = set()
        self._stopping = False
        self._connack: asyncio.Future[ReasonCode] | None = None
        self._lost = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._published: dict[int, asyncio.Future[None]] = {}
        self._subscriptions: list[tuple[str, int]] = []
        self._first = True
        self._ever_connected = False
        self._suback_wait: tuple[int, asyncio.Future[None]] | None = None

    # ------------------------------------------------------------------ setup
    def _make_client(self) -> _BufferedClient:
        b = self.broker
        proto = MQTTProtocolVersion.MQTTv5 if b.protocol == "5" else \
            MQTTProtocolVersion.MQTTv311
        kwargs: dict[str, Any] = {"client_id": self.client_id, "protocol": proto,
                                  "manual_ack": self.manual_ack}
        if proto is MQTTProtocolVersion.MQTTv311:
            kwargs["clean_session"] = b.clean_start
        c = _BufferedClient(CallbackAPIVersion.VERSION2, **kwargs)
        c.connect_timeout = b.connect_timeout_s
        c.max_queued_messages_set(0)
        if b.username is not None:
            c.username_pw_set(b.username, b.password)
        if b.tls is not None:
            try:
                c.tls_set(ca_certs=b.tls.ca_file, certfile=b.tls.cert_file,
                          keyfile=b.tls.key_file, cert_reqs=ssl.CERT_REQUIRED)
            except (OSError, ssl.SSLError, ValueError) as exc:
                raise ConnectorError(f"{self.name}: TLS setup failed: {exc!r}") from exc
            c.tls_insecure_set(not b.tls.verify_hostname)
        c.on_message = self._message
        c.fast = self._on_message
        c.on_connect = self._connected
        c.on_disconnect = self._disconnected
        c.on_publish = self._puback
        c.on_subscribe = self._suback
        c.on_socket_open = self._sock_open
        c.on_socket_close = self._sock_close
        c.on_socket_register_write = self._want_write
        c.on_socket_unregister_write = self._no_write
        return c

    def _connect_properties(self) -> Properties | None:
        if self.broker.protocol != "5":
            return None
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        if self.broker.session_expiry_s:
            props.SessionExpiryInterval = self.broker.session_expiry_s
        props.ReceiveMaximum = self.broker.receive_maximum
        return props

    # ------------------------------------------------------------------ lifecycle
    async def start(self, subscriptions: list[tuple[str, int]] | None = None) -> None:
        """Connect (raising ConnectorError when that fails) and keep the session up."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._subscriptions = list(subscriptions or [])
        await self._connect_once()
        if self._suback_wait is not None and not self.session_present:
            # (a resumed session has its subscriptions; its backlog may come before the
            # SUBACK of our re-subscription, so waiting for that would wait for the backlog)
            try:
                await asyncio.wait_for(self._suback_wait[1], self.broker.connect_timeout_s)
            except TimeoutError as exc:
                await self.stop()
                raise ConnectorError(f"{self.name}: no SUBACK from the broker") from exc
        self._tasks.append(asyncio.create_task(self._supervise(), name=f"mqtt-{self.name}"))
        self._tasks.append(asyncio.create_task(self._keepalive(),
                                               name=f"mqtt-ping-{self.name}"))

    async def _connect_once(self) -> None:
        loop = asyncio.get_running_loop()
        self._connack = loop.create_future()
        self._detach()
        will = self._will() if self._will else None
        if will is not None:
            self._client.will_set(will.topic, will.payload, will.qos, will.retain)
        b = self.broker
        first = self._first

        def connect() -> None:
            if first and b.protocol == "5":
                self._client.connect(b.host, b.port, b.keepalive_s, clean_start=b.clean_start,
                                     properties=self._connect_properties())
            elif first:  # 3.1.1: clean_session was given to the client
                self._client.connect(b.host, b.port, b.keepalive_s)
            else:
                self._client.reconnect()

        try:
            await asyncio.wait_for(asyncio.to_thread(connect), b.connect_timeout_s + 1)
            self._first = False
            rc = await asyncio.wait_for(self._connack, b.connect_timeout_s)
        except (OSError, ssl.SSLError, TimeoutError, ValueError, paho.WebsocketConnectionError
                ) as exc:
            self._abort()
            raise ConnectorError(f"{self.name}: cannot connect to {b.host}:{b.port}: "
                                 f"{exc!r}") from exc
        if rc.is_failure:
            self._abort()
            raise ConnectorError(f"{self.name}: broker {b.host}:{b.port} refused the "
                                 f"connection: {rc.getName()}")

    def _abort(self) -> None:
        """Drop a half-open connection (no DISCONNECT: it is not a clean stop)."""
        self._detach()
        if self._client.socket() is not None:
            self._client._sock_close()  # paho's own close (we are detached: no callback use)

    async def _supervise(self) -> None:
        delay = self.broker.reconnect_min_s
        while not self._stopping:
            await self._lost.wait()
            self._lost.clear()
            while not self._stopping and not self.connected:
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
                if self._stopping:
                    return
                try:
                    await self._connect_once()
                    delay = self.broker.reconnect_min_s
                except ConnectorError as exc:
                    self.status.last_error = str(exc)
                    delay = min(delay * 2, self.broker.reconnect_max_s)

    async def _keepalive(self) -> None:
        while not self._stopping:
            await asyncio.sleep(1.0)
            if self._client.socket() is not None:
                self._client.loop_misc()

    async def stop(self, last_words: list[Will] | None = None) -> None:
        """Publish ``last_words`` (if connected), disconnect cleanly, stop; idempotent."""
        if self._stopping:
            return
        self._stopping = True
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks.clear()
        if self.connected:
            for w in last_words or []:  # sent before DISCONNECT, so the broker has them
                self._client.publish(w.topic, w.payload, w.qos, w.retain)
            self._client.linger_on_close = True
            self._client.disconnect()
            if self._client.socket() is not None:
                self._client.loop_write()  # sends DISCONNECT, then half-closes
            await self._drain(self._client.lingering)
            self._client.lingering = None
            self._client.linger_on_close = False
        self._abort()
        self.connected = False
        for fut in self._published.values():
            if not fut.done():
                fut.set_exception(ConnectorError(f"{self.name}: session stopped"))
        self._published.clear()

    @staticmethod
    async def _drain(sock: Any, timeout_s: float = 2.0) -> None:
        """Read (and drop) until the broker closes its side, then close the socket."""
        if sock is None:
            return
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                try:
                    if not sock.recv(65536):
                        break
                except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    await asyncio.sleep(0.005)
                except OSError:
                    break
        finally:
            with contextlib.suppress(OSError):
                sock.close()

    # ------------------------------------------------------------------ socket plumbing
    def _in_loop(self, fn: Callable[[], None]) -> None:
        if threading.get_ident() == self._loop_thread:
            fn()
        elif self._loop is not None:
            self._loop.call_soon_threadsafe(fn)

    def _sock_open(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        self._client.reset_buffer()

        def attach() -> None:
            if self._client.socket() is not sock or self._loop is None:
                return
            self._sock = sock
            if not self._paused:
                self._add_reader()

        self._in_loop(attach)

    def _add_reader(self) -> None:
        if self._loop is not None and self._sock is not None and not self._reading:
            try:
                self._loop.add_reader(self._sock, self._readable)
                self._reading = True
            except (OSError, ValueError):  # closed meanwhile: the close path reports it
                self._reading = False

    def _detach(self) -> None:
        if self._loop is not None and self._sock is not None:
            with contextlib.suppress(OSError, ValueError):
                self._loop.remove_reader(self._sock)
            with contextlib.suppress(OSError, ValueError):
                self._loop.remove_writer(self._sock)
        self._reading = self._writing = False
        self._sock = None

    def _sock_close(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        # called just before paho closes the socket; off the loop thread we have already
        # detached it (``_connect_once`` detaches before paho's reconnect closes it)
        if sock is self._sock and threading.get_ident() == self._loop_thread:
            self._detach()

    def _want_write(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        def add() -> None:
            if self._loop is not None and sock is self._sock and not self._writing:
                with contextlib.suppress(OSError, ValueError):
                    self._loop.add_writer(sock, self._writable)
                    self._writing = True

        self._in_loop(add)

    def _no_write(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        if self._loop is not None and self._writing and sock is self._sock:
            with contextlib.suppress(OSError, ValueError):
                self._loop.remove_writer(sock)
            self._writing = False

    def _writable(self) -> None:
        self._client.loop_write()

    def _readable(self) -> None:
        client = self._client
        n = 0
        while True:
            rc = client.loop_read()
            n += 1
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS or self._paused or n >= _BURST:
                break
            if not client.buffered():
                break
        if self._on_burst is not None:
            self._on_burst()
        if not self._paused and self._sock is not None and client.buffered() and \
                self._loop is not None:
            self._loop.call_soon(self._readable)  # bytes left in our buffer, not the socket

    # ------------------------------------------------------------------ flow control
    @property
    def paused(self) -> bool:
        return bool(self._holds)

    def pause_reading(self, why: str = "queue") -> None:
        """Stop reading the socket until every ``why`` that paused it has resumed."""
        first = not self._holds
        self._holds.add(why)
        self._paused = True
        if first and self._loop is not None and self._sock is not None and self._reading:
            with contextlib.suppress(OSError, ValueError):
                self._loop.remove_reader(self._sock)
            self._reading = False

    def resume_reading(self, why: str = "queue") -> None:
        if why not in self._holds:
            return
        self._holds.discard(why)
        if self._holds:
            return
        self._paused = False
        self._add_reader()
        if self._loop is not None and self._sock is not None:
            self._loop.call_soon(self._readable)  # our buffer may hold whole packets

    # ------------------------------------------------------------------ paho callbacks
    def _message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        self._on_message(msg._topic, bytes(msg.payload), msg.qos, msg.mid)

    def _connected(self, client: paho.Client, userdata: Any, flags: paho.ConnectFlags,
                   rc: ReasonCode, props: Properties | None) -> None:
        fut = self._connack
        if fut is not None and not fut.done():
            fut.set_result(rc)
        if rc.is_failure:
            self.status.last_error = f"connection refused: {rc.getName()}"
            return
        if self._ever_connected and self.status.last_error is not None:
            _log.info("%s: connected to the broker again", self.name)
        self._ever_connected = True
        self.session_present = flags.session_present
        self.connected = True
        self.generation += 1
        self.status.connected = True
        self.status.last_error = None
        if self._subscriptions:
            _, mid = self._client.subscribe(self._subscriptions)
            if self._loop is not None and mid is not None:
                self._suback_wait = (mid, self._loop.create_future())
        if self._on_connect_cb is not None:
            self._on_connect_cb(flags.session_present)

    def _disconnected(self, client: paho.Client, userdata: Any, flags: paho.DisconnectFlags,
                      rc: ReasonCode, props: Properties | None) -> None:
        was = self.connected
        self.connected = False
        self.status.connected = False
        if self._stopping:
            return
        why = f"disconnected: {rc.getName()}"
        if was:
            _log.warning("%s: %s; reconnecting with backoff", self.name, why)
            self.status.reconnects += 1
            self.status.last_error = why
        for fut in self._published.values():
            if not fut.done():
                fut.set_exception(ConnectorError(f"{self.name}: {why} before the broker "
                                                 "acknowledged the publish"))
        self._published.clear()
        self._lost.set()
        if self._on_disconnect_cb is not None:
            self._on_disconnect_cb(why)

    def _puback(self, client: paho.Client, userdata: Any, mid: int, rc: ReasonCode,
                props: Properties | None) -> None:
        fut = self._published.pop(mid, None)
        if fut is None or fut.done():
            return
        if rc.is_failure:
            fut.set_exception(ConnectorError(f"{self.name}: broker refused publish: "
                                             f"{rc.getName()}"))
        else:
            fut.set_result(None)

    def _suback(self, client: paho.Client, userdata: Any, mid: int, rcs: list[ReasonCode],
                props: Properties | None) -> None:
        wait = self._suback_wait
        if wait is not None and wait[0] == mid and not wait[1].done():
            wait[1].set_result(None)
        bad = [f"{f}: {rc.getName()}" for (f, _), rc in zip(self._subscriptions, rcs,
                                                             strict=False) if rc.is_failure]
        if bad:
            self.status.last_error = "subscribe refused: " + "; ".join(bad)
            _log.error("%s: %s", self.name, self.status.last_error)

    # ------------------------------------------------------------------ use
    def ack(self, mid: int, qos: int) -> None:
        """Acknowledge a QoS 1/2 message taken in with ``manual_ack``."""
        self._client.ack(mid, qos)

    def publish_nowait(self, topic: str, payload: bytes, qos: int = 0,
                       retain: bool = False) -> None:
        """Queue a publish without waiting for the broker (fire and forget)."""
        if not self.connected:
            raise ConnectorError(f"{self.name}: not connected to the broker")
        self._client.publish(topic, payload, qos, retain)

    async def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False,
                      *, timeout_s: float = 5.0) -> None:
        """Publish and, for QoS 1/2, wait until the broker acknowledged it.

        Raises ConnectorError when not connected, when the broker refuses, or when no
        acknowledgement came within ``timeout_s`` (then the message may or may not have
        reached the broker).
        """
        if not self.connected or self._loop is None:
            raise ConnectorError(f"{self.name}: not connected to the broker")
        info = self._client.publish(topic, payload, qos, retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise ConnectorError(f"{self.name}: publish to {topic} failed: "
                                 f"{paho.error_string(info.rc)}")
        if qos == 0:
            return
        fut: asyncio.Future[None] = self._loop.create_future()
        if info.is_published():
            return
        self._published[info.mid] = fut
        try:
            await asyncio.wait_for(fut, timeout_s)
        except TimeoutError as exc:
            self._published.pop(info.mid, None)
            raise ConnectorError(f"{self.name}: no acknowledgement for the publish to {topic} "
                                 f"within {timeout_s:g} s") from exc
