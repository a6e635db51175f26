"""Point specifications and the point table that interns them to integer ids.

A *point* is one time series on one twin: a measured telemetry value, an estimate, a
setpoint or a derived value. On the hot path points travel as ``int32`` indices into a
:class:`PointTable`, whose NumPy columns hold the per-point limits the quality checks use.

Example:
    >>> from processtwin.core.points import PointSpec, PointTable
    >>> table = PointTable([PointSpec(twin="r1", name="T_R", unit="degC", lo=0, hi=200)])
    >>> table.index("r1.T_R"), float(table.hi[0])
    (0, 200.0)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from processtwin.errors import InvalidInputError, UnknownPointError

__all__ = ["PointKind", "PointSpec", "PointTable"]


class PointKind(StrEnum):
    """What a point holds."""

    TELEMETRY = "telemetry"
    ESTIMATE = "estimate"
    SETPOINT = "setpoint"
    DERIVED = "derived"


@dataclass(frozen=True, slots=True, kw_only=True)
class PointSpec:
    """One point of one twin, with its unit and its quality limits.

    ``lo``/``hi`` are the hard range (outside is bad), ``max_roc`` the largest plausible rate
    of change in unit per second, ``flatline_s`` how long a value may stay exactly unchanged
    before it is called stuck (``None`` disables the check), ``max_age_s`` how old its newest
    value may be before the point counts as stale (``None``: the twin's default).
    """

    twin: str
    name: str
    unit: str = ""
    kind: PointKind = PointKind.TELEMETRY
    lo: float = -np.inf
    hi: float = np.inf
    max_roc: float = np.inf
    flatline_s: float | None = None
    max_age_s: float | None = None
    description: str = ""

    @property
    def key(self) -> str:
        return f"{self.twin}.{self.name}"


class PointTable:
    """An ordered, append-only set of points with vectorised limit columns.

    A point's index never changes: :meth:`extend` adds points at the end (e.g. when a
    Sparkplug birth declares new metrics) and replaces the read-only limit columns with
    longer ones. Holders of per-point arrays (live state, pipeline, store) must then grow
    theirs before a batch carries the new indices.
    """

    def __init__(self, specs: Iterable[PointSpec]) -> None:
        self._specs: tuple[PointSpec, ...] = ()
        self._index: dict[str, int] = {}
        self._n = 0
        self._add(tuple(specs))

    def extend(self, specs: Iterable[PointSpec]) -> list[int]:
        """Append points; return their new indices. Adds nothing when one is invalid.

        Example:
            >>> t = PointTable([PointSpec(twin="a", name="x")])
            >>> t.extend([PointSpec(twin="b", name="y", hi=5.0)]), len(t), t.hi.tolist()
            ([1], 2, [inf, 5.0])
        """
        return self._add(tuple(specs))

    def _add(self, new: tuple[PointSpec, ...]) -> list[int]:
        start = len(self._specs)
        index = dict(self._index)
        for i, spec in enumerate(new, start):
            if spec.key in index:
                raise InvalidInputError(f"duplicate point {spec.key!r}")
            if spec.lo > spec.hi:
                raise InvalidInputError(f"point {spec.key!r}: lo {spec.lo} > hi {spec.hi}")
            index[spec.key] = i
        self._specs = self._specs + new
        self._build_columns()
        self._index = index
        return list(range(start, len(self._specs)))

    def _build_columns(self) -> None:
        n = len(self._specs)
        self.lo: npt.NDArray[np.float64] = np.array([s.lo for s in self._specs], dtype=np.float64)
        self.hi: npt.NDArray[np.float64] = np.array([s.hi for s in self._specs], dtype=np.float64)
        self.max_roc: npt.NDArray[np.float64] = np.array(
            [s.max_roc for s in self._specs], dtype=np.float64
        )
        self.flatline_s: npt.NDArray[np.float64] = np.array(
            [np.inf if s.flatline_s is None else s.flatline_s for s in self._specs],
            dtype=np.float64,
        )
        self.lo.setflags(write=False)
        self.hi.setflags(write=False)
        self.max_roc.setflags(write=False)
        self.flatline_s.setflags(write=False)
        self._n = n  # last: a reader that sees the new length sees the new columns

    def __len__(self) -> int:
        return self._n

    def __iter__(self) -> Iterator[PointSpec]:
        return iter(self._specs)

    def __contains__(self, key: object) -> bool:
        return key in self._index

    @property
    def specs(self) -> Sequence[PointSpec]:
        return self._specs

    def index(self, key: str) -> int:
        """The integer id of ``twin.point``; raises :class:`UnknownPointError`."""
        try:
            return self._index[key]
        except KeyError:
            raise UnknownPointError(f"unknown point {key!r}") from None

    def get(self, key: str) -> int | None:
        return self._index.get(key)

    def spec(self, idx: int) -> PointSpec:
        return self._specs[idx]

    def keys(self) -> list[str]:
        return [s.key for s in self._specs]

    def of_twin(self, twin: str) -> list[int]:
        return [i for i, s in enumerate(self._specs) if s.twin == twin]
