"""Parameter and scenario sweeps, in process or spread over a Dask cluster.

``sweep(model, scenarios, t, client=None)`` cuts the scenarios into chunks of
``chunk_size`` and simulates each with :func:`~processtwin.physics.batch.simulate`. Without
a client the chunks run one after the other here; with a ``dask.distributed`` client each
chunk is a task on the cluster (the model travels pickled: library models by reference,
composed ones by value through cloudpickle). The scenarios of a chunk never interact, so
the result is the same either way, bit for bit, for the same chunk size.

Dask is optional: nothing here imports it; pass any object with Dask's ``submit`` and
``gather``. Errors raised by the simulation (:class:`~processtwin.errors.SolverError`...)
come back as they are; anything else failing in the cluster becomes an
:class:`~processtwin.errors.ExternalError`.

Example:
    >>> import numpy as np
    >>> from processtwin.physics.cstr import van_de_vusse
    >>> m = van_de_vusse()
    >>> s = Scenarios.of(m, params={"alpha": np.linspace(0.9, 1.1, 5)})
    >>> sweep(m, s, np.linspace(0.0, 0.1, 11), chunk_size=2).x.shape
    (5, 11, 4)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy.typing as npt

from processtwin.errors import ExternalError, ProcessTwinError
from processtwin.physics.batch import simulate
from processtwin.physics.model import ProcessModel
from processtwin.physics.scenarios import Scenarios, Trajectory

__all__ = ["SweepClient", "sweep"]


class SweepClient(Protocol):
    """What :func:`sweep` needs of a ``dask.distributed.Client``."""

    def submit(self, func: Any, *args: Any, **kwargs: Any) -> Any: ...

    def gather(self, futures: Any, *args: Any, **kwargs: Any) -> Any: ...


def sweep(
    model: ProcessModel,
    scenarios: Scenarios,
    t: npt.ArrayLike,
    *,
    client: SweepClient | None = None,
    chunk_size: int = 2048,
    **options: Any,
) -> Trajectory:
    """Simulate ``scenarios`` in chunks, here or on ``client``; ``options`` go to simulate."""
    chunks = scenarios.chunks(chunk_size)
    if client is None:
        parts: Sequence[Trajectory] = [simulate(model, c, t, **options) for c in chunks]
        return Trajectory.concat(parts)
    try:
        futures = [client.submit(simulate, model, c, t, pure=False, **options) for c in chunks]
        parts = client.gather(futures)
    except ProcessTwinError:
        raise
    except Exception as exc:
        raise ExternalError(f"sweep of {model.name} on the cluster failed: {exc}") from exc
    return Trajectory.concat(list(parts))
