"""JSON-safe values: NaN and ±inf become ``null``, NumPy floats become Python floats.

JSON has no NaN; the API, the CLI and reports all emit it through :func:`json_safe`.

Example:
    >>> json_safe({"a": float("nan"), "b": [1.0, float("inf")], "c": "x"})
    {'a': None, 'b': [1.0, None], 'c': 'x'}
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["json_safe"]


def json_safe(x: Any) -> Any:
    """``x`` with non-finite floats replaced by ``None`` (dicts, lists and tuples recursed)."""
    if isinstance(x, float | np.floating):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: json_safe(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [json_safe(v) for v in x]
    return x
