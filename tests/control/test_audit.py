from __future__ import annotations

import json
from pathlib import Path

from processtwin.control import AuditLog, verify


def test_chain_verifies_and_survives_reopening(tmp_path: Path) -> None:
    p = tmp_path / "audit.jsonl"
    log = AuditLog(p)
    for i in range(5):
        log.append("verdict", {"i": i})
    AuditLog(p).append("verdict", {"i": 5})  # a restarted process continues the chain
    assert verify(p) == (True, 6, None)


def test_tampering_is_detected(tmp_path: Path) -> None:
    p = tmp_path / "audit.jsonl"
    log = AuditLog(p)
    for i in range(4):
        log.append("verdict", {"outcome": "refused", "i": i})
    lines = p.read_text().splitlines()
    e = json.loads(lines[1])
    e["data"]["outcome"] = "released"
    altered = [lines[0], json.dumps(e), *lines[2:]]
    p.write_text("\n".join(altered) + "\n")
    ok, n, why = verify(p)
    assert not ok and n == 1 and "altered" in (why or "")
    p.write_text("\n".join([lines[0], *lines[2:]]) + "\n")  # a deleted line
    assert verify(p)[0] is False
