"""Helpers shared by the MQTT and Sparkplug tests (no tests here).

Tests talk to the Mosquitto every project machine runs on 127.0.0.1:1883, each under its
own topic prefix. Tests that need TLS, passwords or a broker they can kill start their own
Mosquitto on a free port (:class:`PrivateBroker`) and stop only that process.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from processtwin.control.gate import (
    CommandGate,
    CommandRequest,
    GateConfig,
    GateContext,
    InputLimit,
    Mode,
)
from processtwin.core import Batch, DeadLetter
from processtwin.core.commands import ReleasedWrite

BROKER = ("127.0.0.1", 1883)


def broker_up() -> bool:
    try:
        socket.create_connection(BROKER, timeout=1).close()
        return True
    except OSError:
        return False


# CI (.ci/run) starts Mosquitto, so a missing broker fails the tests there; a developer
# without one may opt out explicitly with PTWIN_SKIP_SERVICES=1.
needs_broker = pytest.mark.skipif(
    os.environ.get("PTWIN_SKIP_SERVICES") == "1" and not broker_up(),
    reason="Mosquitto is not running on 127.0.0.1:1883 and PTWIN_SKIP_SERVICES=1")


def prefix() -> str:
    """A topic prefix no other test run uses."""
    return f"ptwin-test-{uuid.uuid4().hex[:10]}"


class Collector:
    """A sink that keeps every batch and dead letter."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.batches: list[Batch] = []
        self.dead: list[DeadLetter] = []
        self.delay_s = delay_s
        self.calls = 0

    async def __call__(self, batch: Batch, dead: list[DeadLetter]) -> None:
        self.calls += 1
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        self.batches.append(batch)
        self.dead.extend(dead)

    def all(self) -> Batch:
        return Batch.concat(self.batches)

    def rows(self) -> int:
        return sum(len(b) for b in self.batches)


async def wait_until(cond: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {timeout_s} s")
        await asyncio.sleep(0.02)


def released(twin: str, name: str, value: float, current: float) -> ReleasedWrite:
    """A write obtained the only legal way: a closed-loop gate verdict, released."""
    gate = CommandGate(GateConfig(mode=Mode.CLOSED, limits={
        name: InputLimit(lo=-1e9, hi=1e9, max_step=1e9)}, max_staleness_s=60))
    verdict = gate.evaluate(CommandRequest(twin=twin, inputs={name: value}, origin="test"),
                            GateContext(now=time.time(), data_age_s=0.1,
                                        current={name: current}))
    [write] = gate.release(verdict)
    return write


class Publisher:
    """A plain paho client (own thread) to publish test traffic and watch topics."""

    def __init__(self, host: str = BROKER[0], port: int = BROKER[1], **tls: Any) -> None:
        self.client = paho.Client(CallbackAPIVersion.VERSION2,
                                  protocol=MQTTProtocolVersion.MQTTv5)
        self.seen: list[paho.MQTTMessage] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.connect(host, port)
        self.client.loop_start()

    def _on_message(self, c: Any, u: Any, m: paho.MQTTMessage) -> None:
        with self._lock:
            self.seen.append(m)

    def watch(self, topic: str, qos: int = 1) -> None:
        self._subscribed.clear()
        self.client.subscribe(topic, qos)
        if not self._subscribed.wait(5):
            raise AssertionError("no SUBACK")

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos, retain).wait_for_publish(5)

    def messages(self, topic_part: str = "") -> list[paho.MQTTMessage]:
        with self._lock:
            return [m for m in self.seen if topic_part in m.topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])



def spawn_mosquitto(conf: Path, port: int, timeout_s: float = 10.0) -> subprocess.Popen[bytes]:
    """``mosquitto -c conf``, returned once it accepts connections on ``port``."""
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.terminate()
    proc.wait(5)
    raise RuntimeError(f"mosquitto did not start on port {port}")


class PrivateBroker:
    """A Mosquitto of our own on a free port (TLS, passwords, restarts)."""

    def __init__(self, *, tls: bool = False, users: dict[str, str] | None = None,
                 port: int | None = None) -> None:
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="ptwin-mqtt-"))
        self.tls = tls
        self.users = users or {}
        self.proc: subprocess.Popen[bytes] | None = None
        if tls:
            self._certificates()

    def _certificates(self) -> None:
        d = self.dir

        def ssl(*args: str) -> None:
            subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

        ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1")
        ssl("req", "-x509", *ec, "-nodes", "-days", "2", "-subj",
            "/CN=ptwin test CA", "-keyout", "ca.key", "-out", "ca.crt")
        for name, cn in (("server", "localhost"), ("client", "ptwin-client")):
            ssl("req", *ec, "-nodes", "-subj", f"/CN={cn}", "-keyout",
                f"{name}.key", "-out", f"{name}.csr")
            ext = d / f"{name}.ext"
            ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
            ssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-out", f"{name}.crt", "-extfile", str(ext))

    def file(self, name: str) -> str:
        return str(self.dir / name)

    def start(self) -> PrivateBroker:
        lines = [f"listener {self.port} 127.0.0.1", "persistence false", "log_dest none"]
        if self.users:
            pw = self.dir / "passwd"
            pw.write_text("")
            for user, password in self.users.items():
                subprocess.run(["mosquitto_passwd", "-b", str(pw), user, password],
                               check=True, capture_output=True)
            lines += ["allow_anonymous false", f"password_file {pw}"]
        else:
            lines.append("allow_anonymous true")
        if self.tls:
            lines += [f"cafile {self.file('ca.crt')}", f"certfile {self.file('server.crt')}",
                      f"keyfile {self.file('server.key')}", "require_certificate true",
                      "use_identity_as_username false"]
        conf = self.dir / "mosquitto.conf"
        conf.write_text("\n".join(lines) + "\n")
        # run as root, mosquitto drops to its own user: let it read our throw-away files
        self.dir.chmod(0o755)
        for f in self.dir.iterdir():
            f.chmod(0o644)
        self.proc = spawn_mosquitto(conf, self.port, timeout_s=5.0)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(5)
            self.proc = None
