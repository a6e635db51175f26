"""An append-only, hash-chained audit log (JSON lines).

Each entry carries ``seq``, ``ts``, ``kind``, ``data``, the previous entry's hash and its own
``hash = sha256(prev_hash + canonical JSON of the entry without its hash)``. Changing,
removing or reordering any line breaks the chain, which :func:`verify` detects.

Example:
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "audit.jsonl"
    >>> log = AuditLog(p)
    >>> _ = log.append("verdict", {"outcome": "refused"})
    >>> verify(p)
    (True, 1, None)
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

__all__ = ["AuditLog", "verify"]

GENESIS = "0" * 64


def _digest(prev: str, entry: dict[str, Any]) -> str:
    body = json.dumps(entry, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((prev + body).encode()).hexdigest()


class AuditLog:
    """Appends entries to a file (or memory only when ``path`` is None)."""

    def __init__(self, path: str | Path | None, *, fsync: bool = True, keep: int = 1000) -> None:
        self.path = Path(path) if path is not None else None
        self.fsync = fsync
        self._lock = threading.Lock()
        self._recent: deque[dict[str, Any]] = deque(maxlen=keep)
        self._seq = 0
        self._prev = GENESIS
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.exists():
                for line in self.path.read_text().splitlines():
                    if line.strip():
                        e = json.loads(line)
                        self._recent.append(e)
                        self._seq, self._prev = int(e["seq"]), str(e["hash"])

    def append(self, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            entry: dict[str, Any] = {"seq": self._seq + 1, "ts": time.time(), "kind": kind,
                                     "data": data, "prev": self._prev}
            entry["hash"] = _digest(self._prev, entry)
            if self.path is not None:
                with self.path.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(entry, sort_keys=True, default=str) + "\n")
                    fh.flush()
                    if self.fsync:
                        os.fsync(fh.fileno())
            self._seq, self._prev = entry["seq"], entry["hash"]
            self._recent.append(entry)
            return entry

    def recent(self, limit: int = 100) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._recent)[-limit:][::-1]


def verify(path: str | Path) -> tuple[bool, int, str | None]:
    """Check the chain; return (ok, entries checked, problem or None)."""
    prev = GENESIS
    n = 0
    for lineno, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            e = json.loads(line)
            claimed = e.pop("hash")
        except (json.JSONDecodeError, KeyError, AttributeError):
            return False, n, f"line {lineno}: not an audit entry"
        if e.get("prev") != prev:
            return False, n, f"line {lineno}: chain broken (prev hash does not match)"
        if _digest(prev, e) != claimed:
            return False, n, f"line {lineno}: entry altered (hash mismatch)"
        if e.get("seq") != n + 1:
            return False, n, f"line {lineno}: sequence {e.get('seq')} != {n + 1}"
        prev = claimed
        n += 1
    return True, n, None
