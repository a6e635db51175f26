"""Outliers: a causal Hampel filter, vectorised over interleaved points, state across batches.

For each usable value ``x_t`` of a point, with ``W_t`` the ``w`` usable values of that point
just before it (its trailing window)::

    m_t = median(W_t)
    s_t = max(1.4826 · median(|W_t − m_t|), min_scale)
    outlier  ⇔  |x_t − m_t| > k · s_t

1.4826 = 1/Φ⁻¹(3/4) makes the MAD a consistent estimator of σ for Gaussian noise (Hampel
1974, *J. Amer. Statist. Assoc.* 69:383; Pearson et al. 2016, *Generalized Hampel filters*,
EURASIP J. Adv. Signal Process. 2016:87). Flagged values become *uncertain* with the
``outlier`` reason; they are not removed.

**Why Hampel and not a robust z-score.** A robust z-score measures ``x`` against one median
and MAD of a reference set. Process signals are not stationary: a reactor temperature moves
with load, a flow with its set-point, so a fixed reference either flags every operating point
change or must be so loose that it misses spikes. The Hampel filter *is* the robust z-score
computed on a moving window: its reference follows the process, it needs no training period
beyond one window, and it has one interpretable knob ``k`` in robust sigmas. It is causal
here (the window precedes the value, the value does not vote on itself), so live results
equal recomputed ones.

Behaviour worth knowing: a real step of more than ``k·s`` costs about ``w/2`` flagged values
(until the new level holds the majority of the window); flagged values still enter the window
so that a step is accepted, while values already *bad* (NaN, range, roc, flatline) never
do. A point is tested only once its window is full. ``min_scale`` (from ``min_scale`` and
``min_scale_span·(hi − lo)``) stops a quantised or constant signal from flagging every step.

**Vectorisation.** Rows are sorted by (point, ts). For each point the carried buffer of its
last ``w`` usable values is put in front of its rows, so every row's window is a slice of one
flat array. The windows become ``w`` column arrays and are sorted with a Batcher odd–even
merge network (``np.minimum``/``np.maximum`` over whole columns), which is several times
faster than ``np.median`` along an axis for small ``w``. Points with different ``w`` are
processed in one group per distinct ``w``.

Example:
    >>> import numpy as np
    >>> from processtwin.core import Batch, PointSpec, PointTable
    >>> from processtwin.pipeline.config import QualityParams, QualitySettings
    >>> t = PointTable([PointSpec(twin="r", name="T")])
    >>> p = QualityParams.uniform(t, QualitySettings(window=5, k=3))
    >>> b = Batch.of([0] * 8, range(8), [1.0, 1.1, 0.9, 1.0, 1.05, 9.0, 1.0, 0.95])
    >>> hampel_flags(b, np.ones(8, bool), p, HampelState(1, 5)).tolist()
    [False, False, False, False, False, True, False, False]
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from processtwin.core.batch import Batch
from processtwin.pipeline.config import QualityParams

__all__ = ["MAD_TO_SIGMA", "HampelState", "hampel_flags", "median_network", "sorting_network"]

F64 = npt.NDArray[np.float64]
#: 1/Φ⁻¹(3/4): the MAD of Gaussian noise times this is its standard deviation.
MAD_TO_SIGMA = 1.482602218505602


class HampelState:
    """The last ``max_window`` usable values of each point (oldest first) and their count."""

    def __init__(self, n: int, max_window: int) -> None:
        self.max_window = max_window
        self.buf: F64 = np.full((n, max_window), np.nan)
        self.count = np.zeros(n, dtype=np.int64)


@lru_cache(maxsize=64)
def sorting_network(n: int) -> tuple[tuple[int, int], ...]:
    """Comparators ``(i, j)``, ``i < j``, of Batcher's odd–even merge sort for ``n`` wires.

    Built for the next power of two and pruned of comparators that touch padding wires
    (padding with +∞ never moves, so those comparators are no-ops). Knuth, *TAOCP* vol. 3,
    §5.3.4, Algorithm M.
    """
    size = 1
    while size < n:
        size *= 2
    out: list[tuple[int, int]] = []
    p = 1
    while p < size:
        k = p
        while k >= 1:
            for j in range(k % p, size - k, 2 * k):
                for i in range(min(k, size - j - k)):
                    if (i + j) // (p * 2) == (i + j + k) // (p * 2) and i + j + k < n:
                        out.append((i + j, i + j + k))
            k //= 2
        p *= 2
    return tuple(out)


@lru_cache(maxsize=64)
def median_network(n: int) -> tuple[tuple[int, int], ...]:
    """The comparators of :func:`sorting_network` that the middle wire(s) depend on."""
    need = {n // 2, (n - 1) // 2}
    keep: list[tuple[int, int]] = []
    for i, j in reversed(sorting_network(n)):
        if i in need or j in need:
            keep.append((i, j))
            need |= {i, j}
    return tuple(reversed(keep))


#: Rows per chunk of the network: 31 columns of 16384 float64 stay in the CPU cache, which
#: makes the comparators about 3x faster than over whole 10⁵-row columns.
_CHUNK = 16384


def _median_of(cols: list[F64]) -> F64:
    """Elementwise median of equal-length columns; overwrites the arrays it is given."""
    spare = np.empty_like(cols[0])
    for i, j in median_network(len(cols)):
        np.minimum(cols[i], cols[j], out=spare)
        np.maximum(cols[i], cols[j], out=cols[j])
        cols[i], spare = spare, cols[i]
    w = len(cols)
    return cols[w // 2].copy() if w % 2 else 0.5 * (cols[w // 2 - 1] + cols[w // 2])


def _group(v: F64, pu: npt.NDArray[np.int32], w: int, params: QualityParams,
           st: HampelState) -> npt.NDArray[np.bool_]:
    """Flags for rows ``v`` of points ``pu`` (sorted by point), all with window ``w``."""
    n = len(v)
    first = np.ones(n, dtype=bool)
    first[1:] = pu[1:] != pu[:-1]
    starts = np.flatnonzero(first)
    seg_pts = pu[starts]
    seg_len = np.diff(np.append(starts, n))
    seg_off = np.concatenate(([0], np.cumsum(seg_len + w)[:-1]))
    ext = np.empty(n + w * len(starts))
    ext[seg_off[:, None] + np.arange(w)] = st.buf[seg_pts, st.max_window - w:]
    seg_of_row = np.repeat(np.arange(len(starts)), seg_len)
    j = np.arange(n) - starts[seg_of_row]
    pos = seg_off[seg_of_row] + w + j
    ext[pos] = v
    med = np.empty(n)
    mad = np.empty(n)
    windows = sliding_window_view(ext, w)  # windows[i] = ext[i:i + w]
    for lo in range(0, n, _CHUNK):
        block = np.ascontiguousarray(windows[pos[lo:lo + _CHUNK] - w].T)  # (w, chunk)
        m = med[lo:lo + _CHUNK] = _median_of(list(block.copy()))  # scrambles its input
        mad[lo:lo + _CHUNK] = _median_of(list(np.abs(block - m)))
    scale = np.maximum(MAD_TO_SIGMA * mad, params.min_scale[pu])
    full = (st.count[pu] + j) >= w
    with np.errstate(invalid="ignore"):
        flags = full & (np.abs(v - med) > params.k[pu] * scale)
    tail = (seg_off + seg_len)[:, None] + np.arange(w)
    st.buf[seg_pts, st.max_window - w:] = ext[tail]
    st.count[seg_pts] += seg_len
    return flags


def hampel_flags(batch: Batch, usable: npt.NDArray[np.bool_], params: QualityParams,
                 st: HampelState) -> npt.NDArray[np.bool_]:
    """Outlier flags for a batch sorted by (point, ts); only ``usable`` rows are tested.

    Usable rows of points with the outlier check on are tested and then enter their point's
    window (``st`` is updated). Returns a boolean mask over all rows.
    """
    flags = np.zeros(len(batch), dtype=bool)
    rows = np.flatnonzero(usable & params.outlier[batch.point])
    if len(rows) == 0:
        return flags
    pu = batch.point[rows]
    wins = params.window[pu]
    distinct = np.unique(wins)
    for w in distinct:
        if int(w) > st.max_window:
            raise ValueError(f"window {int(w)} exceeds the state's {st.max_window}")
        sel = rows if len(distinct) == 1 else rows[wins == w]
        flags[sel] = _group(batch.value[sel], batch.point[sel], int(w), params, st)
    return flags
