"""The examples in the store modules' docstrings run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["compute", "_pgcopy", "buffered", "export", "factory"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(f"processtwin.store.{name}")
    result = doctest.testmod(module)
    assert result.failed == 0
    assert result.attempted > 0
