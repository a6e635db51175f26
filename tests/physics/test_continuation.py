from __future__ import annotations

import numpy as np
import pytest

from processtwin.errors import InvalidInputError
from processtwin.physics import continuation, exothermic_cstr, van_de_vusse


def test_the_exothermic_cstr_s_curve_has_three_states_and_two_folds() -> None:
    m = exothermic_cstr()
    br = continuation(m, "T_cin", (270.0, 320.0))
    assert br.values[0] == 270.0 and br.values[-1] > 320.0  # crossed the whole span
    folds = br.turning_points
    assert len(folds) == 2
    ignition, extinction = sorted(folds, key=lambda tp: -tp.value)
    assert 282.0 < extinction.value < 284.0 < 295.0 < ignition.value < 297.0
    u = m.u0.copy()
    for tp in folds:
        u[1] = tp.value
        ev = np.linalg.eigvals(m.jacobian(tp.x, u)).real
        assert np.min(np.abs(ev)) < 1e-6 * np.max(np.abs(ev))  # a zero eigenvalue: a fold
        assert np.allclose(m.f(tp.x, u), 0.0, atol=1e-8)
    states = br.states_at(290.0)
    assert len(states) >= 3
    temps = sorted(x[1] for x in states)
    assert temps[0] < 325.0 and temps[-1] > 370.0  # cold and ignited
    u[1] = 290.0
    stable = [bool(np.all(np.linalg.eigvals(m.jacobian(x, u)).real < 0))
              for x in sorted(states, key=lambda x: x[1])]
    assert stable == [True, False, True]
    for x in states:
        assert np.allclose(m.f(x, u), 0.0, atol=1e-8)
    # outside the fold interval a single steady state
    assert len(br.states_at(275.0)) == 1 and len(br.states_at(310.0)) == 1
    # stability along the branch changes exactly at the folds
    changes = np.flatnonzero(np.diff(br.stable.astype(int)))
    assert len(changes) == 2


def test_continuation_over_a_parameter_without_folds() -> None:
    m = van_de_vusse()
    br = continuation(m, "beta", (0.8, 1.2))
    assert not br.turning_points
    assert np.all(np.diff(br.values) > 0)
    assert np.all(br.stable)
    # more active catalyst: less A left over
    assert br.x[-1, 0] < br.x[0, 0]
    (x,) = br.states_at(1.0)
    np.testing.assert_allclose(x, m.steady_state(m.u0), rtol=1e-8)


def test_continuation_refuses_unknown_names_and_empty_spans() -> None:
    m = van_de_vusse()
    with pytest.raises(InvalidInputError, match="neither an input nor a parameter"):
        continuation(m, "nope", (0.0, 1.0))
    with pytest.raises(InvalidInputError, match="width"):
        continuation(m, "beta", (1.0, 1.0))
