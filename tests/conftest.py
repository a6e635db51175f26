"""Shared fixtures. Tests that need ../shared skip cleanly when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PTWIN_SHARED", REPO.parent / "shared"))
EXAMPLE = REPO / "examples" / "cstr" / "twin.yaml"


@pytest.fixture
def example_path() -> Path:
    return EXAMPLE


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is absent")
    return SHARED
