"""Dense output: write the states at every output time a step passes, from a polynomial.

Each integrator describes its continuous extension over an accepted step [t_n, t_n + h] as
a polynomial in θ = (t − t_n)/h with vector coefficients::

    y(t_n + θh) = y_n + Σ_{m=1..M} c_m·θ^m        (evaluated by Horner's rule)

With output every second and steps of minutes, most of the work of a batch run is here:
N·T·nx values. Two kernels do it: a NumPy one (gather the coefficients of every output
row, evaluate, scatter into the (N, T, nx) array) and, when numba is installed, a compiled
loop that writes each value in place with no temporaries, several times faster (see
``bench/bench_sim.py``). Both give the same values to rounding.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["have_numba", "write_poly"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


def _numpy_kernel(out: npt.NDArray[Any], gidx: I64, nxt: I64, end: I64, t_out: F64,
                  t_old: F64, h: F64, y0: F64, coef: F64) -> None:
    cnt = end - nxt
    total = int(cnt.sum())
    if total <= 0:
        return
    rows = np.repeat(np.arange(len(cnt)), cnt)
    first = np.cumsum(cnt) - cnt
    j = np.arange(total) - first[rows] + nxt[rows]
    theta = ((t_out[j] - t_old[rows]) / h[rows])[:, None]
    c = coef[rows]  # (R, nx, M)
    val = c[:, :, -1] * theta
    for m in range(coef.shape[2] - 2, -1, -1):
        val += c[:, :, m]
        val *= theta
    val += y0[rows]
    out[gidx[rows], j, :] = val


@cache
def _numba_kernel() -> Callable[..., None] | None:
    try:
        numba = importlib.import_module("numba")
    except ImportError:
        return None

    def kernel(out: Any, gidx: Any, nxt: Any, end: Any, t_out: Any, t_old: Any, h: Any,
               y0: Any, coef: Any) -> None:  # pragma: no cover - compiled
        nx = y0.shape[1]
        mm = coef.shape[2]
        for s in numba.prange(gidx.shape[0]):
            g = gidx[s]
            inv = 1.0 / h[s]
            to = t_old[s]
            for j in range(nxt[s], end[s]):
                th = (t_out[j] - to) * inv
                for i in range(nx):
                    v = coef[s, i, mm - 1] * th
                    for m in range(mm - 2, -1, -1):
                        v = (v + coef[s, i, m]) * th
                    out[g, j, i] = y0[s, i] + v

    jitted: Callable[..., None] = numba.njit(cache=True, nogil=True, parallel=True)(kernel)
    return jitted


def have_numba() -> bool:
    """Whether the compiled dense-output kernel is available."""
    return _numba_kernel() is not None


def write_poly(out: npt.NDArray[Any], t_out: F64, nxt_all: I64, gidx: I64, t_old: F64,
               h: F64, t_new: F64, y0: F64, coef: F64, *, accelerate: bool) -> None:
    """Write outputs in (t_old, t_new] of scenarios ``gidx`` and advance ``nxt_all``.

    ``y0`` is (nx, m) and ``coef`` (M, nx, m), one column per scenario of ``gidx``; the
    kernels take them transposed, one contiguous block per scenario.
    """
    nxt = nxt_all[gidx]
    end = np.searchsorted(t_out, t_new, side="right")
    end = np.maximum(end, nxt)
    if not np.any(end > nxt):
        nxt_all[gidx] = end
        return
    y0t = np.ascontiguousarray(y0.T)
    coeft = np.ascontiguousarray(coef.transpose(2, 1, 0))
    kernel = _numba_kernel() if accelerate else None
    if kernel is not None:
        kernel(out, gidx, nxt, end, t_out, t_old, h, y0t, coeft)
    else:
        _numpy_kernel(out, gidx, nxt, end, t_out, t_old, h, y0t, coeft)
    nxt_all[gidx] = end
