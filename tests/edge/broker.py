"""A Mosquitto of the test's own, with persistence, that a test may stop and restart."""

from __future__ import annotations

import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from tests.connectors.test_mqtt_support import free_port, spawn_mosquitto


class RestartableBroker:
    """``mosquitto -c`` on a free port; persistent sessions survive :meth:`restart`."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="ptwin-edge-mqtt-"))
        self.dir.chmod(0o777)  # mosquitto (started as root) drops to its own user
        self.conf = self.dir / "mosquitto.conf"
        self.conf.write_text("\n".join([
            f"listener {self.port} 127.0.0.1", "allow_anonymous true", "log_dest none",
            "persistence true", f"persistence_location {self.dir}/",
            "max_queued_messages 0", "max_inflight_messages 0"]) + "\n")
        self.conf.chmod(0o644)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RestartableBroker:
        self.proc = spawn_mosquitto(self.conf, self.port)
        return self

    def stop(self) -> None:
        """SIGTERM: mosquitto writes its persistence file and exits."""
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


class Subscriber:
    """A persistent-session QoS 1 subscriber (paho thread) that reconnects by itself."""

    def __init__(self, port: int, topic: str) -> None:
        self.topic = topic
        self.payloads: list[bytes] = []
        self._lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"sub-{port}",
                                  protocol=MQTTProtocolVersion.MQTTv311, clean_session=False)
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, keepalive=5)
        self.client.loop_start()
        if not self.subscribed.wait(5):
            raise AssertionError("no SUBACK")

    def _on_connect(self, c: Any, u: Any, flags: Any, rc: Any, props: Any) -> None:
        c.subscribe(self.topic, 1)

    def _on_message(self, c: Any, u: Any, m: paho.MQTTMessage) -> None:
        with self._lock:
            self.payloads.append(bytes(m.payload))

    def messages(self) -> list[bytes]:
        with self._lock:
            return list(self.payloads)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
