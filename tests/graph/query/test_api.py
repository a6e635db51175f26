"""The package's public names, and the examples in its docstrings."""

from __future__ import annotations

import doctest
import importlib

import pytest

import processtwin.graph.query as query

MODULES = ["lexer", "syntax", "parser", "resolve", "semantics", "expressions", "planner",
           "execute", "memgraph", "run"]


def test_all_matches_exports() -> None:
    public = {k for k, v in vars(query).items() if not k.startswith("_")
              and not isinstance(v, type(importlib)) and k != "annotations"}
    assert public == set(query.__all__)


def test_limits_are_documented_values() -> None:
    assert (query.MAX_QUERY_LENGTH, query.MAX_HOPS, query.MAX_JOINS, query.MAX_NESTING) == (
        8000, 10, 5, 64)


@pytest.mark.parametrize("name", ["__init__", *MODULES])
def test_docstring_examples(name: str) -> None:
    module = query if name == "__init__" else importlib.import_module(
        f"processtwin.graph.query.{name}")
    result = doctest.testmod(module)
    assert result.failed == 0
    assert result.attempted > 0
