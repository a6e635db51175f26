"""Every package's __all__ names exactly what it exports, and each name exists."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = ["processtwin", "processtwin.core", "processtwin.physics", "processtwin.estimation",
            "processtwin.pipeline", "processtwin.store", "processtwin.control",
            "processtwin.optimization", "processtwin.connectors",
            "processtwin.connectors.opcua", "processtwin.connectors.simulator",
            "processtwin.errors", "processtwin.graph", "processtwin.graph.query",
            "processtwin.connectors.mqtt", "processtwin.connectors.sparkplug",
            "processtwin.bus", "processtwin.edge", "processtwin.replay", "processtwin.whatif"]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_matches_exports(name: str) -> None:
    mod = importlib.import_module(name)
    exported = set(mod.__all__)
    for item in exported:
        assert hasattr(mod, item), f"{name}.{item} in __all__ but missing"
    public = {k for k, v in vars(mod).items() if not k.startswith("_")
              and not isinstance(v, type(importlib)) and getattr(v, "__module__", name)
              .startswith("processtwin") and k not in {"annotations"}}
    assert public <= exported | {"TYPE_CHECKING"}, public - exported
