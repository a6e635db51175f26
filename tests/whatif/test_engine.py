"""Monte Carlo what-if: bands, probabilities, determinism and the deterministic limit."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from pydantic import ValidationError

from processtwin.physics import Scenarios, simulate, van_de_vusse
from processtwin.whatif import Scenario, ScenarioError, WhatIfRequest, run_whatif, wilson

M = van_de_vusse()
P = np.diag([0.05, 0.05, 1.0, 1.0]) ** 2
COOLING_LOSS = {"horizon_s": 3600, "dt_s": 120,
                "inputs": {"Q": [{"at_s": 600, "delta": 1500, "ramp_s": 300}]},
                "uncertain": {"K_w": {"std": 250.0}, "beta": {"dist": "uniform", "lo": 0.97,
                                                               "hi": 1.03}}}


def test_bands_are_ordered_and_mean_within_the_outer_band() -> None:
    s = Scenario.model_validate({**COOLING_LOSS, "percentiles": [5, 25, 50, 75, 95]})
    r = run_whatif(M, M.x0, P, M.u0, s, n=200, seed=3)
    assert r.n == 200 and r.n_failed == 0 and r.t_s[0] == 0 and r.t_s[-1] == 3600
    for name, b in r.variables.items():
        rows = np.array([b.percentiles[k] for k in ("p5", "p25", "p50", "p75", "p95")])
        assert np.all(np.diff(rows, axis=0) >= 0), name
        mean = np.array(b.mean)
        tol = 1e-9 * (1.0 + np.abs(mean))  # the mean of equal values is exact to rounding
        assert np.all(rows[0] <= mean + tol) and np.all(mean <= rows[-1] + tol), name
    # the state uncertainty shows at t=0 and the inputs follow the ramp
    t_r = r.variables["T_R"].percentiles
    assert t_r["p95"][0] - t_r["p5"][0] == pytest.approx(2 * 1.645, rel=0.25)
    q = r.variables["Q"].percentiles["p50"]
    t = np.array(r.t_s)
    assert q[int(np.searchsorted(t, 600))] == pytest.approx(M.u0[1])
    assert q[int(np.searchsorted(t, 720))] == pytest.approx(M.u0[1] + 1500 * 120 / 300)
    assert q[-1] == pytest.approx(M.u0[1] + 1500)


def test_violation_probability_is_monotone_in_the_threshold() -> None:
    limits = [134.0, 135.0, 136.0, 137.0, 138.0, 139.0, 140.0, 142.0]
    s = Scenario.model_validate({
        **COOLING_LOSS,
        "constraints": [{"variable": "T_R", "above": c} for c in limits]
        + [{"variable": "T_R", "below": c} for c in limits]})
    r = run_whatif(M, M.x0, P, M.u0, s, n=300, seed=5)
    above = [c.probability for c in r.constraints[:len(limits)]]
    below = [c.probability for c in r.constraints[len(limits):]]
    assert all(a >= b for a, b in itertools.pairwise(above)), above
    assert all(a <= b for a, b in itertools.pairwise(below)), below
    assert above[0] == 1.0 and above[-1] == 0.0  # the band spans the range
    for c in r.constraints:
        assert c.ci_low <= c.probability <= c.ci_high and c.n == 300
        assert c.violations == round(c.probability * c.n)


def test_window_limits_the_constraint() -> None:
    s = Scenario.model_validate({**COOLING_LOSS, "constraints": [
        {"variable": "T_R", "above": 136.0, "within_s": 600},
        {"variable": "T_R", "above": 136.0}]})
    r = run_whatif(M, M.x0, np.zeros((4, 4)), M.u0, s, n=20, seed=1)
    early, whole = r.constraints
    assert early.within_s == 600 and early.probability == 0.0 and whole.probability == 1.0


def test_zero_uncertainty_equals_one_deterministic_simulation() -> None:
    grid_s = np.arange(0.0, 1800.0 + 1, 60.0)
    s = Scenario(horizon_s=1800, dt_s=60)
    r = run_whatif(M, M.x0, np.zeros((4, 4)), M.u0, s, n=7, seed=2)
    ref = simulate(M, Scenarios.of(M, x0=M.x0, u=M.u0), grid_s / 3600.0).x[0]
    for i, name in enumerate(M.state_names):
        b = r.variables[name].percentiles
        np.testing.assert_array_equal(b["p5"], b["p95"])
        np.testing.assert_allclose(b["p50"], ref[:, i], rtol=1e-12, atol=0)
    # a step at 600 s: two pieces, the second from where the first ended
    s = Scenario.model_validate({"horizon_s": 1800, "dt_s": 60,
                                 "inputs": {"F": [{"at_s": 600, "value": 25.0}]}})
    r = run_whatif(M, M.x0, np.zeros((4, 4)), M.u0, s, n=3, seed=2)
    first = simulate(M, Scenarios.of(M, x0=M.x0, u=M.u0), grid_s[:11] / 3600.0).x[0]
    second = simulate(M, Scenarios.of(M, x0=first[-1], u=[25.0, M.u0[1]]),
                      grid_s[10:] / 3600.0).x[0]
    ref = np.vstack([first, second[1:]])
    got = np.column_stack([r.variables[n].percentiles["p50"] for n in M.state_names])
    np.testing.assert_allclose(got, ref, rtol=1e-12)


def test_seed_reproduces_and_chunking_does_not_change_the_result() -> None:
    s = Scenario.model_validate({**COOLING_LOSS, "constraints": [
        {"variable": "T_R", "above": 137.0}]})
    a = run_whatif(M, M.x0, P, M.u0, s, n=60, seed=11)
    b = run_whatif(M, M.x0, P, M.u0, s, n=60, seed=11, chunk=7)
    c = run_whatif(M, M.x0, P, M.u0, s, n=60, seed=12)
    drop = {"elapsed_s"}
    assert a.model_dump(exclude=drop) == b.model_dump(exclude=drop)
    assert a.variables["T_R"] != c.variables["T_R"]


def test_samples_are_clipped_to_physical_bounds_and_joint_parameters_vary() -> None:
    x = np.r_[M.x0, 4032.0]
    cov = np.diag([2.0, 2.0, 1.0, 1.0, 300.0]) ** 2  # C_a, C_b spread far past zero
    s = Scenario(horizon_s=600, dt_s=300)
    r = run_whatif(M, x, cov, {"F": 18.83, "Q": -4495.7}, s, n=200, seed=4, joint=("K_w",),
                   joint_bounds={"K_w": (3000.0, 5000.0)})
    assert r.variables["C_a"].percentiles["p5"][0] == 0.0  # clipped at the lower bound
    assert r.variables["C_b"].percentiles["p95"][0] <= 5.1
    assert r.x0["K_w"] == 4032.0 and r.x0_std["K_w"] == pytest.approx(300.0)
    # with K_w fixed by the scenario the joint estimate is overridden
    fixed = run_whatif(M, x, np.zeros((5, 5)), M.u0, Scenario(horizon_s=600, dt_s=300,
                       params={"K_w": 3000.0}), n=2, seed=4, joint=("K_w",))
    nominal = run_whatif(M, M.x0, np.zeros((4, 4)), M.u0, Scenario(horizon_s=600, dt_s=300),
                         n=2, seed=4)
    assert fixed.variables["T_R"].mean[-1] != nominal.variables["T_R"].mean[-1]


def test_unknown_names_are_all_reported() -> None:
    s = Scenario.model_validate({
        "inputs": {"G": [{"at_s": 0, "value": 1}]}, "params": {"nope": 1.0},
        "uncertain": {"zeta": {"std": 1}}, "constraints": [{"variable": "T_X", "above": 1}]})
    with pytest.raises(ScenarioError) as exc:
        run_whatif(M, M.x0, np.zeros((4, 4)), M.u0, s, n=2)
    locs = [tuple(p["loc"]) for p in exc.value.problems]  # type: ignore[arg-type]
    assert locs == [("inputs", "G"), ("params", "nope"), ("uncertain", "zeta"),
                    ("constraints", 0, "variable")]
    assert "'G'" in str(exc.value) and "'T_X'" in str(exc.value)


@pytest.mark.parametrize(("body", "words"), [
    ({"inputs": {"F": [{"at_s": 0, "value": 1, "delta": 1}]}}, "exactly one of value"),
    ({"inputs": {"F": [{"at_s": 100, "value": 1, "ramp_s": 200},
                       {"at_s": 200, "value": 2}]}}, "not overlap"),
    ({"constraints": [{"variable": "T_R"}]}, "exactly one of above and below"),
    ({"uncertain": {"K_w": {"dist": "gamma"}}}, "gamma"),
    ({"uncertain": {"K_w": {"dist": "uniform", "lo": 2, "hi": 1}}}, r"lo \(2.0\) must be"),
    ({"horizon_s": 3600, "dt_s": 0.1}, "raise dt_s"),
    ({"percentiles": [5, 120]}, "percentiles"),
    ({"n": 0}, "greater than or equal to 1"),
    ({"n": 20_000, "horizon_s": 36_000, "dt_s": 10}, "fewer samples or a larger dt_s"),
    ({"colour": "red"}, "Extra inputs are not permitted"),
])
def test_bad_requests_are_refused_with_a_reason(body: dict[str, object], words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        WhatIfRequest.model_validate(body)


def test_wilson_interval() -> None:
    lo, hi = wilson(50, 100)
    assert lo == pytest.approx(0.4038, abs=1e-4) and hi == pytest.approx(0.5962, abs=1e-4)
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == 1.0
    assert wilson(3, 10, 0.99)[1] > wilson(3, 10, 0.9)[1]
