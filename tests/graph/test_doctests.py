"""The examples in the graph modules' docstrings run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["bulk", "documents", "frozen", "graph", "migration", "models", "store", "validate",
           "values"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(f"processtwin.graph.{name}")
    result = doctest.testmod(module)
    assert result.failed == 0
    assert result.attempted > 0
