"""The one exception hierarchy of processtwin.

Every error the package raises derives from :class:`ProcessTwinError`. Foreign exceptions
(asyncua, duckdb, CasADi, ...) are mapped at the boundary with ``raise OurError(...) from exc``.
The tree separates *your request or input is invalid* from *the plant, a device or a service
failed*::

    ProcessTwinError
    ├── InvalidInputError            the caller's request, data or configuration is wrong
    │   ├── ConfigError              twin.yaml / settings: carries every problem with its place
    │   ├── UnknownPointError        a tag, node or point that no binding knows
    │   ├── UnitError                a unit that does not match what the model declares
    │   └── ModelDefinitionError     a process model that does not validate (NaN, bad Jacobian)
    ├── CommandRefusedError          the safety gate refused a command (carries the verdict)
    ├── NotFoundError                an id (twin, proposal, point) that does not exist
    └── ExternalError                something outside us failed
        ├── ConnectorError           a plant connection (OPC UA, MQTT, ...) failed
        ├── StoreError               the time-series store failed
        └── SolverError              a numerical solver did not converge

Example:
    >>> from processtwin.errors import ConfigError, InvalidInputError
    >>> issubclass(ConfigError, InvalidInputError)
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from processtwin.control.gate import Verdict

__all__ = [
    "CommandRefusedError",
    "ConfigError",
    "ConfigProblem",
    "ConnectorError",
    "ExternalError",
    "InvalidInputError",
    "ModelDefinitionError",
    "NotFoundError",
    "ProcessTwinError",
    "SolverError",
    "StoreError",
    "UnitError",
    "UnknownPointError",
]


class ProcessTwinError(Exception):
    """Base of every error raised by processtwin."""


class InvalidInputError(ProcessTwinError):
    """The caller's request, data or configuration is invalid."""


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One problem in a configuration file, with its place.

    ``path`` is the dotted key path (``twins.0.bindings.3.node``); ``line`` and ``column``
    are 1-based when known.
    """

    path: str
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = self.file or "<config>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.path or '<root>'}: {self.message}"


class ConfigError(InvalidInputError):
    """A configuration is invalid; ``problems`` lists every problem, not only the first."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} configuration problem(s):\n{lines}")


class UnknownPointError(InvalidInputError):
    """A tag, node id or point name that no binding or twin declares."""


class UnitError(InvalidInputError):
    """A unit does not match the one the model or point declares."""


class ModelDefinitionError(InvalidInputError):
    """A process model failed its self-check (NaN at the nominal point, bad Jacobian...)."""


class NotFoundError(ProcessTwinError):
    """A twin, proposal, point or other object does not exist."""


class CommandRefusedError(ProcessTwinError):
    """The command gate refused a command; ``verdict`` carries every reason."""

    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict
        super().__init__("command refused: " + "; ".join(verdict.reasons))


class ExternalError(ProcessTwinError):
    """Something outside processtwin failed: a device, a server, a solver."""


class ConnectorError(ExternalError):
    """A plant connection failed (connect, subscribe, read or write)."""


class StoreError(ExternalError):
    """The time-series store failed."""


class SolverError(ExternalError):
    """A numerical solver (integrator, IPOPT, root finder) did not converge."""
