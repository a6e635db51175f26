"""The gate: every unsafe command is refused, with every reason."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from processtwin.control import (
    CommandGate,
    CommandRequest,
    GateConfig,
    GateContext,
    InputLimit,
    Mode,
)
from processtwin.core.commands import ReleasedWrite
from processtwin.errors import CommandRefusedError

LIMITS = {"F": InputLimit(lo=5, hi=100, max_step=5, min_interval_s=5),
          "Q": InputLimit(lo=-8500, hi=0, max_step=800)}


def gate(mode: Mode) -> CommandGate:
    return CommandGate(GateConfig(mode=mode, limits=LIMITS, max_staleness_s=5))


def ctx(**kw: object) -> GateContext:
    base: dict[str, object] = {"now": 100.0, "data_age_s": 0.5,
                               "current": {"F": 20.0, "Q": -4000.0}}
    base.update(kw)
    return GateContext(**base)  # type: ignore[arg-type]


def req(**inputs: float) -> CommandRequest:
    return CommandRequest(twin="r1", inputs=inputs, origin="test")


@pytest.mark.parametrize(("inputs", "context", "reason"), [
    ({"F": 200.0}, {}, "envelope"),
    ({"F": 2.0}, {"current": {"F": 5.5}}, "envelope"),
    ({"F": float("nan")}, {}, "not finite"),
    ({"F": 30.0}, {}, "step"),
    ({"F": 22.0}, {"last_write": {"F": 98.0}}, "min_interval"),
    ({"F": 22.0}, {"data_age_s": 12.0}, "stale"),
    ({"F": 22.0}, {"data_age_s": float("inf")}, "stale"),
    ({"X": 1.0}, {}, "unknown input"),
    ({"F": 22.0}, {"current": {}}, "current value"),
])
def test_unsafe_commands_are_refused_in_every_mode(inputs: dict[str, float],
                                                   context: dict[str, object],
                                                   reason: str) -> None:
    for mode in Mode:
        v = gate(mode).evaluate(req(**inputs), ctx(**context), approved_by="alice")
        assert v.outcome == "refused"
        assert any(reason in r for r in v.reasons), v.reasons
        with pytest.raises(CommandRefusedError):
            gate(mode).release(v)


def test_every_failed_check_is_reported() -> None:
    v = gate(Mode.CLOSED).evaluate(req(F=500.0, Q=100.0), ctx(data_age_s=60.0))
    assert {k for k, ok in v.checks.items() if not ok} == {"envelope", "rate", "fresh"}
    assert len(v.reasons) >= 4


def test_modes() -> None:
    good = req(F=22.0, Q=-4200.0)
    assert gate(Mode.ADVISORY).evaluate(good, ctx(), approved_by="alice").outcome == "advisory"
    assert gate(Mode.APPROVE).evaluate(good, ctx()).outcome == "pending"
    approved = gate(Mode.APPROVE).evaluate(good, ctx(), approved_by="alice")
    assert approved.outcome == "released" and approved.approved_by == "alice"
    closed = gate(Mode.CLOSED).evaluate(good, ctx())
    writes = gate(Mode.CLOSED).release(closed)
    assert [(w.name, w.value) for w in writes] == [("F", 22.0), ("Q", -4200.0)]
    assert all(w.verdict_id == closed.id for w in writes)


def test_pending_and_advisory_verdicts_cannot_be_released() -> None:
    g = gate(Mode.APPROVE)
    with pytest.raises(CommandRefusedError):
        g.release(g.evaluate(req(F=22.0), ctx()))


def test_nobody_but_the_gate_can_make_a_released_write() -> None:
    with pytest.raises(PermissionError):
        ReleasedWrite("r1", "F", 1.0, verdict_id="x", token=object())


def test_only_the_gate_module_uses_the_release_token() -> None:
    src = Path(__file__).resolve().parents[2] / "src" / "processtwin"
    users = set()
    for path in src.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Name | ast.alias) and "_GATE_TOKEN" in (
                    getattr(node, "id", None), getattr(node, "name", None)):
                users.add(path.relative_to(src).as_posix())
    assert users == {"core/commands.py", "control/gate.py"}
