"""Each form of the language, on the plant graph (MemoryGraph and TwinGraph alike)."""

from __future__ import annotations

from typing import Any

import pytest

from processtwin.graph.query import run_query
from processtwin.graph.types import GraphView
from tests.graph.query.plant import EQUIPMENT, REACTOR


def rows(g: GraphView, text: str) -> list[dict[str, Any]]:
    return run_query(g, text).rows


def ids(g: GraphView, text: str, key: str = "id") -> list[str]:
    return sorted(r[key] for r in rows(g, text))


# ------------------------------------------------------------------ SELECT / FROM


def test_select_star_without_alias_returns_documents(plant: GraphView) -> None:
    out = rows(plant, "SELECT * FROM DIGITALTWINS")
    assert [d["$dtId"] for d in out] == [t["$dtId"] for t in plant.twins()]
    assert out[3]["volume"] == 10.0


def test_select_alias_returns_documents_keyed_by_alias(plant: GraphView) -> None:
    out = rows(plant, "SELECT T FROM DIGITALTWINS T WHERE T.$dtId = 'p1'")
    assert list(out[0]) == ["T"]
    assert out[0]["T"]["rpm"] == 1450


def test_projection_names_columns_by_last_step_or_as(plant: GraphView) -> None:
    out = rows(plant, "SELECT T.$dtId, T.tag AS label, T.$metadata.$model, T.limits.hi "
                      "FROM DIGITALTWINS T WHERE T.$dtId = 'r1'")
    assert out == [{"$dtId": "r1", "label": "R-101", "$model": REACTOR, "hi": 160.0}]


def test_undefined_columns_are_left_out(plant: GraphView) -> None:
    out = rows(plant, "SELECT T.$dtId AS id, T.volume FROM DIGITALTWINS T "
                      "WHERE T.$dtId IN ['r1', 'p1']")
    assert out == [{"id": "r1", "volume": 10.0}, {"id": "p1"}]


def test_index_and_bracket_paths(plant: GraphView) -> None:
    out = rows(plant, "SELECT T.alarms[1] AS second, T['tag'] AS tag FROM DIGITALTWINS T "
                      "WHERE T.$dtId = 'r1'")
    assert out == [{"second": "LL", "tag": "R-101"}]


def test_count(plant: GraphView) -> None:
    assert rows(plant, "SELECT COUNT() FROM DIGITALTWINS") == [{"COUNT": 10}]
    assert rows(plant, "select count() from digitaltwins where IS_OF_MODEL('"
                       f"{REACTOR}')") == [{"COUNT": 2}]
    assert rows(plant, "SELECT TOP(3) COUNT() FROM DIGITALTWINS") == [{"COUNT": 3}]


def test_count_sees_live_values() -> None:
    from tests.graph.query.plant import memory_plant

    g = memory_plant()  # r1 150, r2 90, p1 45 in their documents; p2 60 only live
    assert rows(g, "SELECT COUNT() FROM DIGITALTWINS T WHERE T.temperature > 40") == [
        {"COUNT": 4}]
    g.set_live("p2", "temperature", None)
    assert rows(g, "SELECT COUNT() FROM DIGITALTWINS T WHERE T.temperature > 40") == [
        {"COUNT": 3}]


def test_top_limits_rows_and_defaults_to_star(plant: GraphView) -> None:
    out = rows(plant, "SELECT TOP(2) FROM DIGITALTWINS")
    assert [d["$dtId"] for d in out] == ["site", "area1"]
    assert len(rows(plant, "SELECT TOP(3) T.$dtId FROM DIGITALTWINS T")) == 3
    assert rows(plant, "SELECT TOP(0) * FROM DIGITALTWINS") == []


def test_distinct(plant: GraphView) -> None:
    out = rows(plant, "SELECT DISTINCT T.$metadata.$model AS m FROM DIGITALTWINS T")
    assert sorted(r["m"].split(":")[2] for r in out) == [
        "Area;1", "Pump;1", "Reactor;1", "Sensor;1", "Tank;1"]


def test_from_relationships(plant: GraphView) -> None:
    out = rows(plant, "SELECT R.$targetId AS id, R.lineSize FROM RELATIONSHIPS R "
                      "WHERE R.$relationshipName = 'feeds' AND R.lineSize >= 50")
    assert sorted((r["id"], r["lineSize"]) for r in out) == [("p2", 65), ("r1", 50),
                                                            ("r2", 80)]


def test_from_relationships_anchored_on_source_and_target(plant: GraphView) -> None:
    assert ids(plant, "SELECT R.$targetId AS id FROM RELATIONSHIPS R "
                      "WHERE R.$sourceId = 'r2'") == ["p2", "tk1"]
    assert ids(plant, "SELECT R.$sourceId AS id FROM RELATIONSHIPS R "
                      "WHERE R.$targetId = 'r1' AND R.$relationshipName = 'feeds'") == [
        "p1", "p2"]
    out = rows(plant, "SELECT * FROM RELATIONSHIPS WHERE $sourceId = 's1'")
    assert [r["$targetId"] for r in out] == ["r1"]


def test_bare_names_refer_to_the_unnamed_twin(plant: GraphView) -> None:
    assert ids(plant, "SELECT $dtId AS id FROM DIGITALTWINS WHERE rpm > 0") == ["p1"]


# ------------------------------------------------------------------ JOIN


def test_join_related(plant: GraphView) -> None:
    q = ("SELECT CT.$dtId AS id FROM DIGITALTWINS T JOIN CT RELATED T.contains "
         "WHERE T.$dtId = 'area1' AND IS_OF_MODEL(CT, 'dtmi:plant:Equipment;1')")
    assert ids(plant, q) == ["p1", "p2", "r1", "r2"]


def test_join_relationship_variable_in_select_and_where(plant: GraphView) -> None:
    q = ("SELECT T.$dtId AS src, CT.$dtId AS id, R.lineSize AS size FROM DIGITALTWINS T "
         "JOIN CT RELATED T.feeds R WHERE R.lineSize < 50")
    assert sorted((r["src"], r["id"], r["size"]) for r in rows(plant, q)) == [
        ("p2", "r1", 25), ("r2", "tk1", 40)]


def test_join_chain(plant: GraphView) -> None:
    q = ("SELECT S.$dtId AS s, A.$dtId AS a, E.$dtId AS id FROM DIGITALTWINS S "
         "JOIN A RELATED S.contains JOIN E RELATED A.contains "
         "WHERE S.$dtId = 'site' AND E.temperature > 25")
    assert sorted((r["a"], r["id"]) for r in rows(plant, q)) == [
        ("area1", "p1"), ("area1", "p2"), ("area1", "r1"), ("area1", "r2"), ("area2", "tk1")]


def test_join_anchored_at_the_joined_twin_walks_backwards(plant: GraphView) -> None:
    q = ("SELECT T.$dtId AS id FROM DIGITALTWINS T JOIN CT RELATED T.feeds "
         "WHERE CT.$dtId = 'r1'")
    assert ids(plant, q) == ["p1", "p2"]


def test_join_of_two_branches_from_one_twin(plant: GraphView) -> None:
    q = ("SELECT A.$dtId AS a, B.$dtId AS b FROM DIGITALTWINS T JOIN A RELATED T.feeds "
         "JOIN B RELATED T.feeds WHERE T.$dtId = 'r2'")
    # a JOIN is a plain join: both sides may be the same relationship
    assert sorted((r["a"], r["b"]) for r in rows(plant, q)) == [
        ("p2", "p2"), ("p2", "tk1"), ("tk1", "p2"), ("tk1", "tk1")]


def test_select_star_with_join_keys_rows_by_alias(plant: GraphView) -> None:
    out = rows(plant, "SELECT * FROM DIGITALTWINS T JOIN CT RELATED T.measures R "
                      "WHERE T.$dtId = 's2'")
    assert len(out) == 1
    assert sorted(out[0]) == ["CT", "R", "T"]
    assert (out[0]["CT"]["$dtId"], out[0]["R"]["$relationshipName"]) == ("r2", "measures")


# ------------------------------------------------------------------ WHERE


@pytest.mark.parametrize(("where", "expected"), [
    ("T.temperature = 150", ["r1"]),
    ("T.temperature != 150", ["p1", "p2", "r2", "tk1"]),  # p2 via its live value
    ("T.temperature < 45", ["tk1"]),
    ("T.temperature <= 45", ["p1", "tk1"]),
    ("T.temperature > 90", ["r1"]),
    ("T.temperature >= 90", ["r1", "r2"]),
    ("T.tag IN ['R-101', 'P-101', 'nope']", ["p1", "r1"]),
    ("T.tag NIN ['R-101', 'P-101']", ["p2", "r2", "tk1"]),
    ("T.tag NOT IN ['R-101', 'P-101']", ["p2", "r2", "tk1"]),
    ("T.running = true", ["p1"]),
    ("T.running = false", ["p2"]),
    ("T.rpm > 0 OR T.level > 1", ["p1", "tk1"]),
    ("(T.rpm > 0 OR T.level > 1) AND NOT T.temperature > 40", ["tk1"]),
    ("NOT (T.temperature > 40)", ["tk1"]),
    ("T.temperature > -1 AND T.temperature < 1e3", ["p1", "p2", "r1", "r2", "tk1"]),
    ("T.status = \"idle\"", ["r2"]),
    ("T.limits.lo = 20", ["r1"]),
    ("T.alarms = ['HH', 'LL']", ["r1"]),
    ("T.alarms = []", ["r2"]),
    ("T.tag = 'R-101' AND true", ["r1"]),
    ("T.tag < 'P-2'", ["p1", "p2"]),
    ("STARTSWITH(T.tag, 'R-')", ["r1", "r2"]),
    ("ENDSWITH(T.tag, '01')", ["p1", "r1"]),
    ("CONTAINS(T.name, 'farm')", ["area2"]),
    ("CONTAINS(T.$dtId, 'area')", ["area1", "area2"]),
    ("IS_DEFINED(T.volume)", ["r1", "r2"]),
    ("IS_DEFINED(T.temperature) AND IS_OF_MODEL(T, 'dtmi:plant:Pump;1')", ["p1", "p2"]),
    ("NOT IS_DEFINED(T.tag)", ["area1", "area2", "s1", "s2", "site"]),
    ("IS_BOOL(T.running)", ["p1", "p2"]),
    ("IS_NUMBER(T.rpm)", ["p1", "p2"]),
    ("IS_STRING(T.kind)", ["s1", "s2"]),
    ("IS_OBJECT(T.limits)", ["r1"]),
    ("IS_ARRAY(T.alarms)", ["r1", "r2"]),
    ("IS_PRIMITIVE(T.level)", ["tk1"]),
    ("IS_PRIMITIVE(T.limits)", []),
    ("IS_NULL(T.volume)", []),
    ("IS_OF_MODEL(T, 'dtmi:plant:Equipment;1')", ["p1", "p2", "r1", "r2", "tk1"]),
    ("IS_OF_MODEL(T, 'dtmi:plant:Equipment;1', exact)", []),
    ("IS_OF_MODEL(T, 'dtmi:plant:Reactor;1', exact)", ["r1", "r2"]),
    ("T.$dtId IN ['r1', 'ghost', 's2']", ["r1", "s2"]),
])
def test_where_operators(plant: GraphView, where: str, expected: list[str]) -> None:
    assert ids(plant, f"SELECT T.$dtId AS id FROM DIGITALTWINS T WHERE {where}") == expected


def test_is_of_model_one_argument_form(plant: GraphView) -> None:
    assert ids(plant, "SELECT $dtId AS id FROM DIGITALTWINS WHERE IS_OF_MODEL('"
                      f"{EQUIPMENT}')") == ["p1", "p2", "r1", "r2", "tk1"]
    assert ids(plant, "SELECT T.$dtId AS id FROM DIGITALTWINS T WHERE IS_OF_MODEL('"
                      f"{REACTOR}', exact)") == ["r1", "r2"]


def test_comparisons_across_types_are_false_not_errors(plant: GraphView) -> None:
    for where in ("T.tag > 5", "T.temperature = '150'", "T.running = 1", "T.running > false",
                  "T.alarms < 3", "T.nothing = null", "T.tag != 5"):
        assert ids(plant, f"SELECT T.$dtId AS id FROM DIGITALTWINS T WHERE {where}") == []


def test_not_of_undefined_stays_undefined(plant: GraphView) -> None:
    # rpm is undefined on reactors: NOT (rpm > 0) must not select them
    assert ids(plant, "SELECT T.$dtId AS id FROM DIGITALTWINS T WHERE NOT T.rpm > 0") == ["p2"]
    assert ids(plant, "SELECT T.$dtId AS id FROM DIGITALTWINS T "
                      "WHERE T.rpm > 0 OR T.$dtId = 'r1'") == ["p1", "r1"]


def test_keywords_and_functions_are_case_insensitive(plant: GraphView) -> None:
    assert ids(plant, "select T.$dtId as id From DigitalTwins T where is_of_model(T, "
                      f"'{REACTOR}') And T.x = 1 oR T.tag = 'P-101'") == ["p1"]


# ------------------------------------------------------------------ live telemetry


def test_live_values_fill_in_missing_properties(plant: GraphView) -> None:
    assert ids(plant, "SELECT reactor.$dtId AS id FROM DIGITALTWINS reactor "
                      "WHERE reactor.T_R > 140") == ["r2"]
    out = rows(plant, "SELECT T.T_R, T.temperature FROM DIGITALTWINS T WHERE T.$dtId = 'p2'")
    assert out == [{"temperature": 60.0}]


def test_document_values_win_over_live_values() -> None:
    from tests.graph.query.plant import memory_plant

    g = memory_plant()
    g.set_live("r1", "temperature", 999.0)
    assert rows(g, "SELECT T.temperature FROM DIGITALTWINS T WHERE T.$dtId = 'r1'") == [
        {"temperature": 150.0}]


def test_live_values_through_components_and_never_for_system_names() -> None:
    from processtwin.graph.query import MemoryGraph

    g = MemoryGraph()
    g.add_twin("r", "dtmi:x:R;1", {"jacket": {"$metadata": {}, "area": 2.0}})
    g.set_live("r", "jacket.T_K", 80.0)
    g.set_live("r", "$etag2", "x")
    out = rows(g, "SELECT T.jacket.T_K AS tk, T.$etag2 AS e, T.jacket.area AS a "
                  "FROM DIGITALTWINS T")
    assert out == [{"tk": 80.0, "a": 2.0}]


# ------------------------------------------------------------------ odds and ends


def test_bare_values_as_conditions(plant: GraphView) -> None:
    q = "SELECT T.$dtId AS id FROM DIGITALTWINS T WHERE "
    assert ids(plant, q + "T.running") == ["p1"]
    assert ids(plant, q + "T.tag") == []  # a string is not true
    assert len(ids(plant, q + "1 = 1")) == 10
    assert ids(plant, q + "false OR null") == []


def test_in_with_computed_items(plant: GraphView) -> None:
    assert ids(plant, "SELECT T.$dtId AS id FROM DIGITALTWINS T "
                      "WHERE 'HH' IN [T.alarms[0], T.alarms[1]]") == ["r1"]
    assert ids(plant, "SELECT T.$dtId AS id FROM DIGITALTWINS T "
                      "WHERE T.rpm NIN [T.temperature, 1450]") == ["p2"]


def test_anchors_that_match_nothing(plant: GraphView) -> None:
    q = "SELECT T.$dtId AS id FROM DIGITALTWINS T WHERE "
    assert ids(plant, q + "T.$dtId = 'ghost'") == []
    assert ids(plant, q + "T.$dtId = 'r1' AND T.$dtId = 'r2'") == []
    assert ids(plant, q + "T.$dtId IN ['r1', 'r2'] AND T.$dtId IN ['r2', 'p1']") == ["r2"]
    assert ids(plant, q + "T.$dtId = 'r1' OR T.$dtId = 'r2'") == ["r1", "r2"]


def test_twin_documents_of_a_twin_graph_are_returned_as_stored(plant: GraphView) -> None:
    (row,) = rows(plant, "SELECT * FROM DIGITALTWINS WHERE $dtId = 'r1'")
    assert row is plant.twin("r1")
