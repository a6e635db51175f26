"""Data reconciliation of linear balances, with gross-error detection and serial elimination.

Measured flows ``x`` (covariance ``V = diag(σ²)``) and unmeasured flows ``u`` of a unit obey
linear balances ``A_x·x + A_u·u = 0``. Unmeasured flows are projected out (Crowe, Garcia
Campos & Hrymak 1983, *AIChE J.* 29:881): with ``P`` an orthonormal basis of the left null
space of ``A_u`` (``P·A_u = 0``, from an SVD), the measured part must satisfy ``B·x = 0``
with ``B = P·A_x`` (reduced to independent rows, ``m = rank B`` of them). Then

* **Reconciled values** (weighted least squares, the minimum of ``(x−x̂)ᵀV⁻¹(x−x̂)`` subject
  to ``B·x̂ = 0``)::

      x̂ = x − V·Bᵀ·(B·V·Bᵀ)⁻¹·B·x

  and ``û`` is the least-squares solution of ``A_u·û = −A_x·x̂`` (only the components that
  ``A_u`` determines are *observable*; the others are reported as NaN).
* **Global test**: ``γ = rᵀ(B·V·Bᵀ)⁻¹r`` with ``r = B·x`` is χ² with ``m`` degrees of freedom
  when there is no gross error; a gross error is declared when ``γ > χ²_{1−α}(m)``.
* **Measurement test**: the adjustments ``a = x − x̂`` have covariance
  ``W = V·Bᵀ(B·V·Bᵀ)⁻¹B·V``; ``zᵢ = |aᵢ|/√Wᵢᵢ`` is standard normal. A measurement is
  suspect when ``zᵢ > z_c = Φ⁻¹(1 − β/2)`` with the Šidák-corrected ``β = 1 − (1−α)^(1/n)``
  over the ``n`` testable (redundant, ``Wᵢᵢ > 0``) measurements (Mah & Tamhane 1982,
  *AIChE J.* 28:828).
* **Serial elimination** (Ripps 1965; Narasimhan & Jordache, *Data Reconciliation and Gross
  Error Detection*, 2000, §8.3): while the global test fails, each remaining measurement is
  tried as unmeasured and the one whose removal lowers ``γ`` most is named a gross error,
  with its bias estimated as ``xᵢ − ûᵢ``. This stops when the global test passes or no
  redundancy is left.

A gross error can only be told apart from another when their columns of ``A_x`` are not
proportional (two flow meters in series are indistinguishable; both are then reported
among the candidates with equal ``γ``).

Example (a splitter F1 → F2 + F3 with F3 unmeasured and F1, F2 measured twice over):
    >>> import numpy as np
    >>> b = Balance(("F1", "F2"), np.array([[1.0, -1.0]]), ("F3",), np.array([[-1.0]]))
    >>> r = b.reconcile(np.array([10.0, 7.0]), np.array([0.1, 0.1]))
    >>> r.dof, r.u_hat.round(6).tolist()
    (0, [3.0])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy import stats

from processtwin.errors import InvalidInputError, SolverError

__all__ = ["Balance", "BalanceConfig", "GrossError", "Reconciliation", "SerialResult",
           "balance_from_rows"]

F64 = npt.NDArray[np.float64]
_TOL = 1e-10


class BalanceConfig(BaseModel):
    """One balanced unit in ``twin.yaml`` (``balances:`` list).

    ``measured`` maps stream names to point keys, ``sigma`` gives each measured stream's
    standard deviation (point unit); ``constraints`` lists rows ``{stream: coefficient}``
    that sum to zero (+1 in, −1 out for a mass balance).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    measured: dict[str, str]
    sigma: dict[str, float]
    unmeasured: tuple[str, ...] = ()
    constraints: tuple[dict[str, float], ...]
    alpha: float = Field(default=0.05, gt=0, lt=1)
    period_s: float = Field(default=60.0, gt=0, description="how often to reconcile")

    @model_validator(mode="after")
    def _consistent(self) -> BalanceConfig:
        problems = []
        streams = set(self.measured) | set(self.unmeasured)
        if set(self.measured) & set(self.unmeasured):
            problems.append("a stream is both measured and unmeasured")
        for s in self.measured:
            if not self.sigma.get(s, 0) > 0:
                problems.append(f"measured stream {s!r} needs a positive sigma")
        for i, row in enumerate(self.constraints):
            for s in row:
                if s not in streams:
                    problems.append(f"constraint {i} names unknown stream {s!r}")
        if not self.constraints:
            problems.append("at least one constraint is needed")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def balance(self) -> Balance:
        return balance_from_rows(self.constraints, tuple(self.measured), self.unmeasured)

    def sigmas(self) -> F64:
        return np.array([self.sigma[s] for s in self.measured], dtype=np.float64)


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """The result of one reconciliation."""

    names: tuple[str, ...]
    x: F64
    x_hat: F64
    unmeasured: tuple[str, ...]
    u_hat: F64  # NaN where not observable
    dof: int
    gamma: float  # global test statistic
    gamma_critical: float
    z: F64  # normalised adjustments (0 where not testable)
    z_critical: float
    testable: npt.NDArray[np.bool_]

    @property
    def adjustments(self) -> F64:
        return self.x_hat - self.x

    @property
    def gross_error(self) -> bool:
        """The global test rejects: at least one gross error is present."""
        return self.dof > 0 and self.gamma > self.gamma_critical

    @property
    def p_value(self) -> float:
        return float(stats.chi2.sf(self.gamma, self.dof)) if self.dof > 0 else 1.0

    def suspects(self) -> list[str]:
        """Measurements failing the (Šidák-corrected) measurement test, worst first."""
        idx = np.flatnonzero(self.testable & (self.z > self.z_critical))
        return [self.names[i] for i in idx[np.argsort(-self.z[idx])]]


@dataclass(frozen=True, slots=True)
class GrossError:
    """A measurement named by serial elimination, with its estimated bias (x − x̂)."""

    name: str
    bias: float
    gamma_after: float


@dataclass(frozen=True, slots=True)
class SerialResult:
    errors: tuple[GrossError, ...]
    final: Reconciliation  # with the named measurements treated as unmeasured


def _left_null(a: F64) -> F64:
    """Orthonormal rows spanning ``{p : p·a = 0}``."""
    m = a.shape[0]
    if a.shape[1] == 0:
        return np.eye(m)
    u, s, _ = np.linalg.svd(a, full_matrices=True)
    rank = int(np.sum(s > _TOL * max(1.0, float(s[0]) if len(s) else 1.0)))
    return u[:, rank:].T


def _row_basis(b: F64) -> F64:
    """Orthonormal rows spanning the row space of ``b`` (drops dependent balances)."""
    if b.size == 0:
        return b.reshape(0, b.shape[1])
    u, s, _ = np.linalg.svd(b, full_matrices=False)
    rank = int(np.sum(s > _TOL * max(1.0, float(s[0]))))
    return np.asarray(u[:, :rank].T @ b)


@dataclass(frozen=True, slots=True)
class Balance:
    """Linear balances ``a_x·x + a_u·u = 0`` over named measured and unmeasured streams."""

    names: tuple[str, ...]
    a_x: F64
    unmeasured: tuple[str, ...] = ()
    a_u: F64 | None = None

    def __post_init__(self) -> None:
        m = self.a_x.shape[0]
        if self.a_x.ndim != 2 or self.a_x.shape[1] != len(self.names):
            raise InvalidInputError("a_x must have one column per measured stream")
        au = self._au()
        if au.shape != (m, len(self.unmeasured)):
            raise InvalidInputError("a_u must have one column per unmeasured stream")

    def _au(self) -> F64:
        if self.a_u is None:
            return np.zeros((self.a_x.shape[0], len(self.unmeasured)))
        return self.a_u

    def reconcile(self, x: npt.ArrayLike, sigma: npt.ArrayLike, alpha: float = 0.05
                  ) -> Reconciliation:
        """Reconcile measurements ``x`` with standard deviations ``sigma`` (same order)."""
        xv = np.asarray(x, dtype=np.float64)
        sv = np.asarray(sigma, dtype=np.float64)
        if xv.shape != (len(self.names),) or sv.shape != xv.shape:
            raise InvalidInputError(f"expected {len(self.names)} values and sigmas")
        if not np.all(np.isfinite(xv)) or not np.all(sv > 0):
            raise InvalidInputError("values must be finite and sigmas positive")
        au = self._au()
        b = _row_basis(_left_null(au) @ self.a_x)
        dof = b.shape[0]
        v = np.diag(sv**2)
        if dof:
            bvb = b @ v @ b.T
            try:
                gain = v @ b.T @ np.linalg.inv(bvb)
            except np.linalg.LinAlgError as exc:
                raise SolverError(f"balance matrix is singular: {exc}") from exc
            r = b @ xv
            x_hat = xv - gain @ r
            gamma = float(r @ np.linalg.solve(bvb, r))
            w = gain @ b @ v
            wd = np.clip(np.diag(w), 0.0, None)
        else:
            x_hat, gamma, wd = xv.copy(), 0.0, np.zeros(len(xv))
        testable = wd > _TOL * sv**2
        z = np.where(testable, np.abs(xv - x_hat) / np.sqrt(np.where(testable, wd, 1.0)), 0.0)
        n_test = int(testable.sum())
        beta = 1.0 - (1.0 - alpha) ** (1.0 / max(n_test, 1))
        z_crit = float(stats.norm.ppf(1.0 - beta / 2.0))
        g_crit = float(stats.chi2.ppf(1.0 - alpha, dof)) if dof else float("inf")
        u_hat = self._unmeasured(au, x_hat)
        return Reconciliation(self.names, xv, x_hat, self.unmeasured, u_hat, dof, gamma,
                              g_crit, z, z_crit, testable)

    def _unmeasured(self, au: F64, x_hat: F64) -> F64:
        if au.shape[1] == 0:
            return np.zeros(0)
        rhs = -self.a_x @ x_hat
        u_hat, *_ = np.linalg.lstsq(au, rhs, rcond=None)
        _, s, vt = np.linalg.svd(au)
        rank = int(np.sum(s > _TOL * max(1.0, float(s[0]) if len(s) else 1.0)))
        null = vt[rank:]  # directions of u that the balances do not fix
        observable = np.all(np.abs(null) < 1e-9, axis=0) if len(null) else np.ones(
            au.shape[1], dtype=bool)
        return np.where(observable, u_hat, np.nan)

    def without(self, name: str) -> Balance:
        """The same balances with measurement ``name`` treated as unmeasured."""
        i = self.names.index(name)
        keep = [j for j in range(len(self.names)) if j != i]
        return Balance(tuple(self.names[j] for j in keep), self.a_x[:, keep],
                       (*self.unmeasured, name),
                       np.hstack([self._au(), self.a_x[:, [i]]]))

    def serial_elimination(self, x: npt.ArrayLike, sigma: npt.ArrayLike, alpha: float = 0.05,
                           max_errors: int | None = None) -> SerialResult:
        """Name gross errors one at a time until the global test passes."""
        xv = np.asarray(x, dtype=np.float64)
        sv = np.asarray(sigma, dtype=np.float64)
        current, cx, cs = self, xv, sv
        errors: list[GrossError] = []
        rec = current.reconcile(cx, cs, alpha)
        limit = len(self.names) if max_errors is None else max_errors
        while rec.gross_error and len(errors) < limit:
            best: tuple[float, str, Reconciliation, Balance] | None = None
            for i in np.flatnonzero(rec.testable):
                name = current.names[i]
                trial = current.without(name)
                keep = np.arange(len(current.names)) != i
                tr = trial.reconcile(cx[keep], cs[keep], alpha)
                if best is None or tr.gamma < best[0] - 1e-9:
                    best = (tr.gamma, name, tr, trial)
            if best is None:
                break
            gamma, name, tr, trial = best
            at = current.names.index(name)
            errors.append(GrossError(name, float(cx[at] - tr.u_hat[-1]), gamma))
            keep = np.arange(len(current.names)) != at
            current, cx, cs, rec = trial, cx[keep], cs[keep], tr
        return SerialResult(tuple(errors), rec)

    def reconcile_points(self, values: Mapping[str, float], sigma: Mapping[str, float],
                         alpha: float = 0.05) -> Reconciliation:
        """Reconcile from values and sigmas keyed by stream name."""
        return self.reconcile([values[n] for n in self.names], [sigma[n] for n in self.names],
                              alpha)


def balance_from_rows(rows: Sequence[Mapping[str, float]], measured: Sequence[str],
                      unmeasured: Sequence[str] = ()) -> Balance:
    """A :class:`Balance` from constraint rows ``{stream: coefficient}``."""
    a_x = np.array([[row.get(s, 0.0) for s in measured] for row in rows], dtype=np.float64)
    a_u = np.array([[row.get(s, 0.0) for s in unmeasured] for row in rows],
                   dtype=np.float64).reshape(len(rows), len(unmeasured))
    return Balance(tuple(measured), a_x, tuple(unmeasured), a_u)
