"""Bus settings and the naming of streams, subjects and consumers.

Everything both sides (publisher and workers) must agree on lives here: the site's stream,
the number of partitions, and :func:`partition_of`, the stable hash that maps a twin to its
partition (CRC-32 of the twin id, not Python's salted ``hash``).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, field_validator

from processtwin.core.points import PointTable

__all__ = ["BusSettings", "partition_of", "partition_table"]

_SITE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class BusSettings(BaseModel):
    """Where the bus is and how it bounds itself (frozen, validated once).

    ``max_ack_pending`` caps the readings' messages in flight per partition (delivered, not
    yet acknowledged): JetStream stops delivering at the cap, which is the backpressure on
    the workers. ``max_bytes`` is the stream's memory/disk ceiling; when it is full the
    stream refuses new messages (discard *new*), and the publisher raises, so the ingest
    side slows down instead of old readings being dropped.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = "nats://127.0.0.1:4222"
    site: str
    partitions: int = Field(default=4, ge=1, le=1024)
    storage: str = Field(default="file", pattern="^(file|memory)$")
    max_bytes: int = Field(default=1 << 30, ge=1 << 16, description="stream ceiling, bytes")
    max_msg_size: int = Field(default=1 << 20, ge=1024)
    max_ack_pending: int = Field(default=256, ge=1, description="messages per partition")
    ack_wait_s: float = Field(default=30.0, gt=0)
    duplicate_window_s: float = Field(default=120.0, gt=0)
    fetch_batch: int = Field(default=64, ge=1)
    max_rows_per_msg: int = Field(default=10_000, ge=1)
    publish_max_pending: int = Field(default=4000, ge=1, description="async publishes in flight")

    @field_validator("site")
    @classmethod
    def _site(cls, v: str) -> str:
        if not _SITE.match(v):
            raise ValueError("a site is 1-64 letters, digits, '_' or '-'")
        return v

    @property
    def stream(self) -> str:
        return f"PTWIN_{self.site}"

    @property
    def subjects(self) -> str:
        return f"ptwin.{self.site}.ingest.>"

    @property
    def description(self) -> str:
        return f"processtwin ingest; site={self.site}; partitions={self.partitions}"

    def subject(self, partition: int) -> str:
        return f"ptwin.{self.site}.ingest.{partition}"

    def durable(self, partition: int) -> str:
        return f"ingest-p{partition}"

    def check_partitions(self, partitions: Iterable[int]) -> list[int]:
        """The partitions as a sorted list; raise ValueError for one out of range."""
        ps = sorted(set(partitions))
        bad = [p for p in ps if not 0 <= p < self.partitions]
        if bad or not ps:
            raise ValueError(f"partitions must be in [0, {self.partitions}), got {ps}")
        return ps


def partition_of(twin: str, partitions: int) -> int:
    """The partition of a twin: CRC-32 of its id modulo the partition count (stable)."""
    return zlib.crc32(twin.encode()) % partitions


def partition_table(table: PointTable, partitions: int) -> npt.NDArray[np.int32]:
    """The partition of each point id (by the point's twin)."""
    return np.array([partition_of(s.twin, partitions) for s in table], dtype=np.int32)
