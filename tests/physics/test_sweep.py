from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from distributed import Client, LocalCluster

from processtwin.errors import ExternalError, SolverError
from processtwin.physics import (
    Scenarios,
    compose,
    gravity_tank,
    simulate,
    sweep,
    van_de_vusse,
)


def _vdv_scenarios(n: int) -> Scenarios:
    m = van_de_vusse()
    rng = np.random.default_rng(11)
    return Scenarios.of(m, x0=m.x0 * rng.uniform(0.9, 1.1, (n, 4)),
                        u=np.c_[rng.uniform(5, 35, n), rng.uniform(-8500, 0, n)],
                        params={"alpha": rng.uniform(0.95, 1.05, n)})


def test_in_process_sweep_equals_one_batch() -> None:
    m = van_de_vusse()
    s = _vdv_scenarios(25)
    t = np.linspace(0.0, 0.2, 21)
    swept = sweep(m, s, t, chunk_size=7)
    whole = simulate(m, s, t)
    np.testing.assert_array_equal(swept.x, whole.x)
    np.testing.assert_array_equal(swept.n_steps, whole.n_steps)
    # batched linear algebra may round differently for other batch sizes
    swept = sweep(m, s, t, chunk_size=7, method="ros23")
    np.testing.assert_allclose(swept.x, simulate(m, s, t, method="ros23").x, rtol=1e-12)


def test_a_local_dask_cluster_gives_the_in_process_result() -> None:
    m = van_de_vusse()
    s = _vdv_scenarios(24)
    t = np.linspace(0.0, 0.2, 21)
    tanks = compose([("a", gravity_tank()), ("b", gravity_tank())], [("a.q_out", "b.q_in")])
    st = Scenarios.of(tanks, u=[[0.004], [0.003], [0.002]])
    tt = np.linspace(0.0, 600.0, 11)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        remote = sweep(m, s, t, client=client, chunk_size=8)
        # a composed model travels by value (its equations are closures)
        remote_tanks = sweep(tanks, st, tt, client=client, chunk_size=2)
        with pytest.raises(SolverError):
            sweep(m, s, t, client=client, chunk_size=8, max_steps=3)
    np.testing.assert_array_equal(remote.x, sweep(m, s, t, chunk_size=8).x)
    np.testing.assert_array_equal(remote_tanks.x, sweep(tanks, st, tt, chunk_size=2).x)


class _BrokenClient:
    def submit(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        raise OSError("scheduler unreachable")

    def gather(self, futures: Any, *args: Any, **kwargs: Any) -> Any:
        return futures


def test_cluster_failures_become_external_errors() -> None:
    m = van_de_vusse()
    with pytest.raises(ExternalError, match="scheduler unreachable"):
        sweep(m, _vdv_scenarios(2), [0.0, 0.1], client=_BrokenClient())
