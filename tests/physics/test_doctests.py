from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["batch", "codegen", "compose", "continuation", "cstr", "distillation", "exothermic",
           "heat_exchanger", "model", "pump", "scenarios", "simulate", "sweep", "tanks"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    mod = importlib.import_module(f"processtwin.physics.{name}")
    result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
