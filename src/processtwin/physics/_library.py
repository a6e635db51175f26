"""Helpers shared by the model library: parameter tables with overrides."""

from __future__ import annotations

from collections.abc import Mapping

from processtwin.errors import ModelDefinitionError
from processtwin.physics.model import Var

__all__ = ["param_vars"]


def param_vars(model: str, table: Mapping[str, tuple[float, str, str]],
               overrides: Mapping[str, float]) -> tuple[Var, ...]:
    """Parameters from ``name -> (nominal, unit, description)`` with ``overrides`` applied.

    An unknown override is a :class:`~processtwin.errors.ModelDefinitionError`.
    """
    unknown = set(overrides) - set(table)
    if unknown:
        raise ModelDefinitionError(f"{model}: unknown parameters {sorted(unknown)}")
    return tuple(Var(name=k, unit=unit, nominal=float(overrides.get(k, val)), description=d)
                 for k, (val, unit, d) in table.items())
