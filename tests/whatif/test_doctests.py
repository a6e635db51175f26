"""The what-if package's docstring examples run, and its __all__ names what it exports."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize("name", ["engine", "models"])
def test_docstring_examples_run(name: str) -> None:
    mod = importlib.import_module(f"processtwin.whatif.{name}")
    result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_all_matches_exports() -> None:
    mod = importlib.import_module("processtwin.whatif")
    exported = set(mod.__all__)
    assert all(hasattr(mod, n) for n in exported)
    public = {k for k, v in vars(mod).items() if not k.startswith("_")
              and not isinstance(v, type(importlib))
              and getattr(v, "__module__", "processtwin").startswith("processtwin")
              and k != "annotations"}
    assert public <= exported, public - exported
