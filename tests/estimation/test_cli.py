"""``ptwin estimate observability|params``: offline from a twin.yaml, JSON and tables.

The fit data: 1 h of plant time (the example's time_scale 10: 6 min of clock) of a
simulated CSTR with fouled jacket K_w = 3700, feed and cooling stepped, σ 0.1 K noise,
a lab C_b every 10th sample; written to a CSV or to the twin's embedded store file.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from processtwin.cli import app
from processtwin.core.batch import Batch
from processtwin.errors import InvalidInputError
from processtwin.estimation.cli import read_csv_store
from processtwin.physics import rk4, van_de_vusse
from processtwin.runtime.config import load_config
from processtwin.runtime.runtime import build_point_table
from processtwin.store import open_store

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cstr" / "twin.yaml"
T0 = 1_800_000_000.0
STEP = 3.0
K = 121
TRUE_KW = 3700.0


def _run() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    m = van_de_vusse()
    rng = np.random.default_rng(7)
    u = np.tile(m.u0, (K, 1))
    u[:, 0] *= 1 + 0.15 * np.sign(np.sin(np.arange(K) / 10))
    u[:, 1] *= 1 + 0.1 * np.sign(np.sin(np.arange(K) / 7 + 1))
    x = [m.steady_state(u[0], {"K_w": TRUE_KW})]
    for k in range(K - 1):
        x.append(rk4(m, x[-1], u[k], STEP * 10 / 3600, {"K_w": TRUE_KW}, substeps=4))
    xs = np.array(x)
    cb = xs[:, 1] + rng.normal(0, 0.02, K)
    cb[np.arange(K) % 10 != 0] = np.nan
    return T0 + np.arange(K) * STEP, {
        "pump1.F": u[:, 0], "jacket1.Q": u[:, 1],
        "reactor1.T_R": xs[:, 2] + rng.normal(0, 0.1, K),
        "reactor1.T_R_B": xs[:, 2] + rng.normal(0, 0.1, K),
        "jacket1.T_K": xs[:, 3] + rng.normal(0, 0.1, K), "reactor1.C_b_lab": cb}


def _check_fit(out: str) -> None:
    body = json.loads(out)
    lo, hi = body["ci"]["K_w"]
    assert lo <= TRUE_KW <= hi and hi - lo < 300, body["ci"]
    assert body["identifiable"]["K_w"] is True
    assert body["data"]["grid_points"] == K and body["data"]["samples"]["C_b"] == 13


def test_c_b_is_observable_from_t_r_and_t_k(example_path: Path) -> None:
    res = CliRunner().invoke(app, ["estimate", "observability", str(example_path),
                                   "--sensors", "T_R,T_K", "--params", "K_w", "--json"])
    assert res.exit_code == 0, res.output
    body = json.loads(res.stdout)
    obs = body["observability"]
    assert obs["rank"] == 4 and obs["states"]["C_b"]["verdict"] == "observable"
    assert obs["state_verdicts"]["C_b"].startswith("C_b is observable from T_R, T_K")
    assert body["identifiability"]["identifiable"] is True


def test_observability_table(example_path: Path) -> None:
    res = CliRunner().invoke(app, ["estimate", "observability", str(example_path),
                                   "--sensors", "T_R", "--states", "C_b"],
                           env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "C_b" in res.stdout and "weakly observable" in res.stdout
    assert "T_K" not in res.stdout  # only the states asked for


def test_bad_names_exit_2_with_the_reason(example_path: Path) -> None:
    res = CliRunner().invoke(app, ["estimate", "observability", str(example_path),
                                   "--sensors", "T_R,T_X"])
    assert res.exit_code == 2
    assert "unknown sensors ['T_X']" in res.output
    res = CliRunner().invoke(app, ["estimate", "params", str(example_path), "--params",
                                   "K_w,k9", "--csv", str(example_path)])
    assert res.exit_code == 2 and "unknown params ['k9']" in res.output
    res = CliRunner().invoke(app, ["estimate", "params", str(example_path), "--params", "K_w"])
    assert res.exit_code == 2 and "exactly one of --from-store and --csv" in res.output


def test_params_from_a_csv(example_path: Path, tmp_path: Path) -> None:
    ts, cols = _run()
    path = tmp_path / "run.csv"
    names = {"pump1.F": "F", "jacket1.Q": "Q", "jacket1.T_K": "T_K"}  # model names work too
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["ts", *(names.get(k, k) for k in cols)])
        for k in range(K):
            w.writerow([ts[k], *("" if np.isnan(v[k]) else repr(float(v[k]))
                                 for v in cols.values())])
    res = CliRunner().invoke(app, ["estimate", "params", str(example_path), "--params", "K_w",
                                   "--csv", str(path), "--grid-s", str(STEP), "--json"])
    assert res.exit_code == 0, res.output
    _check_fit(res.stdout)
    table = CliRunner().invoke(app, ["estimate", "params", str(example_path), "--params",
                                     "K_w", "--csv", str(path), "--grid-s", str(STEP),
                                     "--no-profile"], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert "K_w" in table.stdout and "yes" in table.stdout


def test_params_from_the_store(example_path: Path, tmp_path: Path) -> None:
    shutil.copytree(example_path.parent, tmp_path / "cstr")
    yaml_path = tmp_path / "cstr" / "twin.yaml"
    cfg = load_config(yaml_path)
    store = open_store(cfg.store.spec(), Path(cfg.base_dir) / cfg.data_dir)
    table = build_point_table(cfg)
    store.register(table)
    ts, cols = _run()
    pts, tt, vv = [], [], []
    for key, v in cols.items():
        ok = np.isfinite(v)
        pts += [table.index(key)] * int(ok.sum())
        tt += ts[ok].tolist()
        vv += v[ok].tolist()
    store.append(Batch.of(pts, tt, vv, [0] * len(pts), [0] * len(pts)))
    store.close()
    res = CliRunner().invoke(app, ["estimate", "params", str(yaml_path), "--params", "K_w",
                                   "--from-store", "--start", str(T0), "--grid-s", str(STEP),
                                   "--no-profile", "--json"])
    assert res.exit_code == 0, res.output
    _check_fit(res.stdout)
    # the default window ends at the newest row: a short one is refused with the reason
    res = CliRunner().invoke(app, ["estimate", "params", str(yaml_path), "--params", "K_w",
                                   "--from-store", "--last", "6", "--grid-s", str(STEP)])
    assert res.exit_code == 2 and "too little data" in res.output


@pytest.mark.parametrize("content", ["", "a,b\n1,2\n", "ts,pump1.F\nsoon,1\n"])
def test_unusable_csv_exits_2(example_path: Path, tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    res = CliRunner().invoke(app, ["estimate", "params", str(example_path), "--params", "K_w",
                                   "--csv", str(path)])
    assert res.exit_code == 2, res.output
    assert "bad.csv" in res.output


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(st.sampled_from(["ts", "time", "F", "pump1.F", "T_R", "x", "",
                                          "1.5", "nan", "-inf", "2027-01-15T08:00:00Z",
                                          "1e999", "\ufeff", '"', "a,b"]),
                         max_size=5), max_size=6))
@example(rows=[["F", "ts"], ["ts"]])  # a row shorter than the time column
def test_csv_reader_accepts_or_refuses_clearly(tmp_path: Path, rows: list[list[str]]) -> None:
    est = load_config(EXAMPLE).estimator
    assert est is not None
    path = tmp_path / "fuzz.csv"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    error = None
    try:
        store, first, last = read_csv_store(path, est)
    except InvalidInputError as exc:
        error = str(exc)
    if error is not None:
        assert "fuzz.csv" in error
    else:
        assert first <= last
        store.close()
