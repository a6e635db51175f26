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
    │   ├── ModelDefinitionError     a process model that does not validate (NaN, bad Jacobian)
    │   ├── TwinValidationError      a twin or relationship that breaks its DTDL model
    │   └── QueryError               a graph query that does not parse or run (with position)
    ├── ConflictError                the request conflicts with the current state (existing id)
    │   └── PreconditionFailedError  an update against a stale version (If-Match ETag)
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
    "ConflictError",
    "ConnectorError",
    "ExternalError",
    "InvalidInputError",
    "ModelDefinitionError",
    "NotFoundError",
    "PreconditionFailedError",
    "ProcessTwinError",
    "QueryError",
    "SolverError",
    "StoreError",
    "TwinProblem",
    "TwinValidationError",
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


@dataclass(frozen=True, slots=True)
class TwinProblem:
    """One way a twin or relationship breaks its model.

    ``path`` is a JSON Pointer into the twin document (``/jacket/T_K``), ``code`` a short
    stable identifier (``type``, ``unknown-property``, ``multiplicity``...).
    """

    twin: str
    path: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.twin}{self.path}: {self.code}: {self.message}"


class TwinValidationError(InvalidInputError):
    """A twin or relationship does not conform to its model; ``problems`` lists all of them.

    Nothing was changed: a refused create, patch or import is refused whole.
    """

    def __init__(self, problems: list[TwinProblem]) -> None:
        self.problems = list(problems)
        head = "; ".join(str(p) for p in self.problems[:5])
        more = f" (+{len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        super().__init__(f"{len(self.problems)} twin problem(s): {head}{more}")


class QueryError(InvalidInputError):
    """A graph query is malformed or cannot run; ``position`` is the 0-based offset in the text.

    ``line`` and ``column`` are 1-based and derived from ``position``.
    """

    def __init__(self, message: str, position: int, text: str = "") -> None:
        self.position = position
        self.line = text.count("\n", 0, position) + 1
        self.column = position - (text.rfind("\n", 0, position) + 1) + 1
        self.reason = message
        super().__init__(f"{message} (at line {self.line}, column {self.column})")


class ConflictError(ProcessTwinError):
    """The object changed since the caller read it (ETag mismatch), or its id already exists."""


class PreconditionFailedError(ConflictError):
    """An ``If-Match`` ETag no longer matches: someone else changed the object first."""


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
