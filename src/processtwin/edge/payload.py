"""The compact batch payload the edge forwards, and the route the central twin reads it by.

One MQTT message carries a JSON array of readings, each ``{"p": "twin.point", "t": seconds
since the epoch, "v": value, "q": quality}`` (``q`` 0 good, 1 uncertain, 2 bad; a value
without a number travels as ``null`` with a bad or uncertain quality). The central twin
ingests it with its normal ``kind: mqtt`` source and this payload format::

    routes:
      - topic: ptwin/edge/+            # the edge's topic_prefix, one level per edge
        qos: 1
        format: {readings: "$[*]", point: "@.p", value: "@.v", ts: "@.t", quality: "@.q"}

:func:`edge_route` builds that route in code. ``replay --to mqtt`` publishes the same format.

Example:
    >>> import numpy as np
    >>> from processtwin.core.batch import Batch
    >>> msgs = encode_batch(Batch.of([0, 1], [1.5, 1.5], [2.0, np.nan], [0, 2]), ["r1.T", "r1.F"])
    >>> msgs[0][1]
    b'[{"p":"r1.T","t":1.5,"v":2.0,"q":0},{"p":"r1.F","t":1.5,"v":null,"q":2}]'
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from processtwin.connectors.mqtt.settings import MqttRoute, PayloadFormat
from processtwin.core.batch import Batch

__all__ = ["EDGE_FORMAT", "edge_route", "encode_batch", "encode_readings"]

#: How the central MQTT connector reads an edge message.
EDGE_FORMAT = PayloadFormat(readings="$[*]", point="@.p", value="@.v", ts="@.t",
                            quality="@.q", require_ts=True)


def edge_route(topic_prefix: str, qos: int = 1) -> MqttRoute:
    """The central ``kind: mqtt`` route that ingests every edge under ``topic_prefix``."""
    return MqttRoute(topic=f"{topic_prefix.rstrip('/')}/+", qos=qos, format=EDGE_FORMAT)


def encode_readings(rows: Sequence[tuple[str, float, float, int]]) -> bytes:
    """One message from ``(point key, ts, value, quality)`` rows (NaN travels as null)."""
    return orjson.dumps([{"p": p, "t": t, "v": v, "q": q} for p, t, v, q in rows])


def encode_batch(batch: Batch, keys: Sequence[str], max_readings: int = 500
                 ) -> list[tuple[int, bytes]]:
    """Messages of at most ``max_readings`` readings each, as ``(readings, payload)``.

    ``keys[i]`` is the point key of point id ``i``; rows keep the batch's order.
    """
    n = len(batch)
    out: list[tuple[int, bytes]] = []
    pts, ts, vs, qs = (batch.point.tolist(), batch.ts.tolist(), batch.value.tolist(),
                       batch.quality.tolist())
    for lo in range(0, n, max_readings):
        hi = min(n, lo + max_readings)
        out.append((hi - lo, encode_readings(
            [(keys[pts[i]], ts[i], vs[i], qs[i]) for i in range(lo, hi)])))
    return out
