"""The edge and replay packages export exactly their __all__."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("name", ["processtwin.edge", "processtwin.replay"])
def test_all_matches_exports(name: str) -> None:
    mod = importlib.import_module(name)
    for item in mod.__all__:
        assert hasattr(mod, item), f"{name}.{item} in __all__ but missing"
    public = {k for k, v in vars(mod).items() if not k.startswith("_")
              and not isinstance(v, type(importlib)) and getattr(v, "__module__", name)
              .startswith("processtwin") and k != "annotations"}
    assert public <= set(mod.__all__), public - set(mod.__all__)
