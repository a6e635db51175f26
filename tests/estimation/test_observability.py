"""Observability and identifiability reports.

The issue's question — can we estimate C_b from T_R and T_K alone? — answered at the
nominal operating point with σ = 0.1 K sensors over 10 min at 5 s: yes, the linearised
system has full rank 4 and C_b's Cramér–Rao bound is ≈ 4e-4 mol/l (0.05 % of its value);
from T_R alone C_b is only *weakly* observable (bound ≈ 0.6 mol/l).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from processtwin.errors import InvalidInputError
from processtwin.estimation import (
    AnalysisConfig,
    config_for,
    identifiability_report,
    make_estimator,
    observability_report,
)
from processtwin.physics import ProcessModel, Var, van_de_vusse
from tests.estimation.plant import DT_S, TUNING, plant_run

TEMPS = {"T_R": 0.1, "T_K": 0.1}


def test_cb_can_be_estimated_from_the_two_temperatures() -> None:
    rep = observability_report(van_de_vusse(), AnalysisConfig(sensors=TEMPS))
    assert rep.observable
    assert rep.rank == 4
    cb = rep.states["C_b"]
    assert cb.verdict == "observable"
    assert cb.in_observable_subspace
    assert 1e-5 < cb.crb_std < 2e-3
    assert "C_b is observable from T_R, T_K" in rep.verdict("C_b")
    d = rep.to_dict()
    json.dumps(d)
    assert len(d["singular_values"]) == 4
    assert d["states"]["C_b"]["verdict"] == "observable"


def test_the_bound_is_consistent_with_what_a_filter_achieves() -> None:
    # a filter cannot beat the Cramér–Rao bound over the same data; here the EKF with
    # process noise is within two orders of magnitude of it, never below
    rep = observability_report(van_de_vusse(), AnalysisConfig(sensors=TEMPS))
    run = plant_run(240, seed=4)
    est = make_estimator(van_de_vusse(), config_for("ekf", **TUNING))
    errs = []
    for k in range(240):
        est.step(k * DT_S, run.u_meas[k], run.y[k])
        errs.append(est.x[1] - run.x[k, 1])
    rmse = float(np.sqrt(np.mean(np.square(errs[120:]))))
    assert rep.states["C_b"].crb_std < rmse < 100 * rep.states["C_b"].crb_std


def test_one_temperature_leaves_the_concentrations_weakly_observable() -> None:
    rep = observability_report(van_de_vusse(), AnalysisConfig(sensors={"T_R": 0.1}))
    both = observability_report(van_de_vusse(), AnalysisConfig(sensors=TEMPS))
    assert rep.rank == 4  # structurally observable...
    assert rep.states["C_b"].verdict == "weakly observable"  # ...but poorly conditioned
    assert rep.states["C_b"].crb_std > 100 * both.states["C_b"].crb_std
    assert rep.condition_number > both.condition_number


def _decoupled() -> ProcessModel:
    """Two independent first-order lags: measuring one says nothing about the other."""

    def rhs(m: Any, x: Sequence[Any], u: Sequence[Any], p: Mapping[str, Any]
            ) -> tuple[Any, ...]:
        return (u[0] - p["a"] * x[0], u[0] - p["b"] * x[1])

    return ProcessModel(
        name="lags", states=(Var(name="x1", unit="1", nominal=1.0),
                             Var(name="x2", unit="1", nominal=0.5)),
        inputs=(Var(name="u", unit="1/h", nominal=1.0),),
        params=(Var(name="a", unit="1/h", nominal=1.0), Var(name="b", unit="1/h",
                                                            nominal=2.0)),
        rhs=rhs)


def test_a_decoupled_state_is_unobservable() -> None:
    rep = observability_report(_decoupled(), AnalysisConfig(sensors={"x1": 0.01}))
    assert not rep.observable
    assert rep.rank == 1
    assert rep.states["x1"].verdict == "observable"
    assert rep.states["x2"].verdict == "unobservable"
    assert not rep.states["x2"].in_observable_subspace
    assert "not observable" in rep.verdict()


def test_heat_transfer_is_identifiable_from_the_temperatures() -> None:
    rep = identifiability_report(van_de_vusse(), ["K_w"], AnalysisConfig(sensors=TEMPS))
    assert rep.identifiable
    assert rep.rank == 1
    assert rep.crb_rel_std["K_w"] < 0.01


def test_a_product_of_parameters_is_not_identifiable() -> None:
    rep = identifiability_report(van_de_vusse(), ["k0_ab", "beta"],
                                 AnalysisConfig(sensors=TEMPS))
    assert not rep.identifiable
    assert rep.rank == 1
    assert rep.collinearity_index > 1e3
    n = rep.null_direction
    assert abs(abs(n["k0_ab"]) - 2**-0.5) < 1e-6
    assert n["k0_ab"] == pytest.approx(-n["beta"], abs=1e-6)
    assert "not identifiable" in rep.reason
    json.dumps(rep.to_dict())


def test_an_exciting_experiment_makes_more_parameters_identifiable() -> None:
    m = van_de_vusse()
    params = ["K_w", "beta", "alpha"]
    steady = identifiability_report(m, params, AnalysisConfig(sensors=TEMPS))
    u = np.tile(m.u0, (120, 1))
    u[:, 0] *= 1 + 0.15 * np.sign(np.sin(np.arange(120) / 8))
    moving = identifiability_report(m, params, AnalysisConfig(sensors=TEMPS, u=u))
    assert moving.collinearity_index < steady.collinearity_index
    assert moving.condition_number < steady.condition_number


@pytest.mark.parametrize(("kw", "match"), [
    ({"sensors": {}}, "no sensors"),
    ({"sensors": {"nope": 1.0}}, "must be states"),
    ({"sensors": {"T_R": 0.0}}, "σ must be > 0"),
    ({"sensors": TEMPS, "sample_s": 700.0}, "sample_s"),
    ({"sensors": TEMPS, "x0": (1.0,)}, "x0 must have"),
])
def test_bad_analysis_configs_are_refused(kw: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        observability_report(van_de_vusse(), AnalysisConfig(**kw))
