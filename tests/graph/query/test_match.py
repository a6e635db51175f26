"""MATCH patterns on the plant graph, and against brute-force path enumeration."""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from processtwin.graph.query import MemoryGraph, run_query
from processtwin.graph.query.planner import plan
from processtwin.graph.query.run import parse_query
from processtwin.graph.types import GraphView


def pairs(g: GraphView, text: str) -> list[tuple[str, str]]:
    return sorted((r["a"], r["b"]) for r in run_query(g, text).rows)


def targets(g: GraphView, pattern: str, where: str = "a.$dtId = 'p1'") -> list[str]:
    q = f"SELECT b.$dtId AS b FROM DIGITALTWINS MATCH {pattern} WHERE {where}"
    return sorted(r["b"] for r in run_query(g, q).rows)


# ------------------------------------------------------------------ directions and hops


def test_one_hop_each_direction(plant: GraphView) -> None:
    assert targets(plant, "(a)-[:feeds]->(b)", "a.$dtId = 'r2'") == ["p2", "tk1"]
    assert targets(plant, "(a)<-[:feeds]-(b)", "a.$dtId = 'r1'") == ["p1", "p2"]
    assert targets(plant, "(a)-[:feeds]-(b)", "a.$dtId = 'r1'") == ["p1", "p2", "r2"]


def test_unlabelled_and_arrow_shorthands(plant: GraphView) -> None:
    assert targets(plant, "(a)-[]->(b)", "a.$dtId = 'r2'") == ["p2", "tk1"]
    assert targets(plant, "(a)-->(b)", "a.$dtId = 'r2'") == ["p2", "tk1"]
    assert targets(plant, "(a)<--(b)", "a.$dtId = 'r1'") == ["area1", "p1", "p2", "s1"]
    assert targets(plant, "(a)--(b)", "a.$dtId = 'tk1'") == ["area2", "r2"]


def test_alternative_names(plant: GraphView) -> None:
    assert targets(plant, "(a)<-[:feeds|measures]-(b)", "a.$dtId = 'r1'") == [
        "p1", "p2", "s1"]


def test_variable_length_ranges(plant: GraphView) -> None:
    # p1 -> r1 -> r2 -> {p2, tk1}; p2 -> r1 again, but no relationship twice in a path
    assert targets(plant, "(a)-[:feeds*1..3]->(b)") == ["p2", "r1", "r2", "tk1"]
    assert targets(plant, "(a)-[:feeds*..2]->(b)") == ["r1", "r2"]
    assert targets(plant, "(a)-[:feeds*2]->(b)") == ["r2"]
    assert targets(plant, "(a)-[:feeds*3..3]->(b)") == ["p2", "tk1"]
    assert targets(plant, "(a)-[:feeds*0..1]->(b)") == ["p1", "r1"]
    # the recycle r1 -> r2 -> p2 -> r1 comes back to r1 after 4 hops; going on would take
    # r1 -> r2 a second time, so the path ends there
    assert targets(plant, "(a)-[:feeds*4..6]->(b)") == ["r1"]


def test_relationship_variable_binds_one_document_or_a_list(plant: GraphView) -> None:
    one = run_query(plant, "SELECT r FROM DIGITALTWINS MATCH (a)-[r:feeds]->(b) "
                           "WHERE a.$dtId = 'p1'").rows
    assert one[0]["r"]["lineSize"] == 50
    many = run_query(plant, "SELECT r, b FROM DIGITALTWINS MATCH (a)-[r:feeds*2]->(b) "
                            "WHERE a.$dtId = 'p1'").rows
    assert [x["lineSize"] for x in many[0]["r"]] == [50, 80]
    # a list binding keeps the pattern's left-to-right order even when walked backwards
    back = run_query(plant, "SELECT r FROM DIGITALTWINS MATCH (a)-[r:feeds*2]->(b) "
                            "WHERE b.$dtId = 'r2'").rows
    assert sorted([x["lineSize"] for x in row["r"]] for row in back) == [[25, 80], [50, 80]]


def test_filters_on_every_variable(plant: GraphView) -> None:
    q = ("SELECT a.$dtId AS a, b.$dtId AS b FROM DIGITALTWINS MATCH (a)-[r:feeds]->(b) "
         "WHERE r.lineSize >= 65 AND IS_OF_MODEL(b, 'dtmi:plant:Pump;1') OR b.level > 3")
    assert pairs(plant, q) == [("r2", "p2"), ("r2", "tk1")]
    q = ("SELECT r[1].lineSize AS a, b.$dtId AS b FROM DIGITALTWINS "
         "MATCH (a)-[r:feeds*2]->(b) WHERE r[0].lineSize = 80")
    assert sorted((x["a"], x["b"]) for x in run_query(plant, q).rows) == [
        (40, "tk1"), (65, "p2")]


def test_no_anchor_needed(plant: GraphView) -> None:
    q = ("SELECT a.$dtId AS a, b.$dtId AS b FROM DIGITALTWINS "
         "MATCH (a)-[:measures]->(b)")
    assert pairs(plant, q) == [("s1", "r1"), ("s2", "r2")]


def test_chained_patterns(plant: GraphView) -> None:
    q = ("SELECT a.$dtId AS a, c.$dtId AS b FROM DIGITALTWINS "
         "MATCH (a)-[:measures]->(x)-[:feeds]->(c) WHERE c.temperature < 100")
    assert pairs(plant, q) == [("s1", "r2"), ("s2", "p2"), ("s2", "tk1")]  # p2: live value
    q = ("SELECT s.$dtId AS a, b.$dtId AS b FROM DIGITALTWINS "
         "MATCH (s)-[:measures]->()<-[:contains]-(area)-[:contains]->(b) "
         "WHERE s.$dtId = 's1' AND IS_OF_MODEL(b, 'dtmi:plant:Pump;1')")
    assert pairs(plant, q) == [("s1", "p1"), ("s1", "p2")]


def test_repeated_variable_closes_a_cycle(plant: GraphView) -> None:
    q = ("SELECT a.$dtId AS a, b.$dtId AS b FROM DIGITALTWINS "
         "MATCH (a)-[:feeds]->(b)-[:feeds*1..3]->(a)")
    assert pairs(plant, q) == [("p2", "r1"), ("r1", "r2"), ("r2", "p2")]


def test_anchor_in_the_middle_plans_outwards(plant: GraphView) -> None:
    q = ("SELECT a.$dtId AS a, b.$dtId AS b FROM DIGITALTWINS "
         "MATCH (a)-[:feeds]->(m)-[:feeds]->(b) WHERE m.$dtId IN ['r2', 'ghost']")
    assert pairs(plant, q) == [("r1", "p2"), ("r1", "tk1")]
    p = plan(parse_query(q))
    assert (p.start, p.anchors) == (1, ("r2", "ghost"))
    assert [(s.src, s.dst, s.direction) for s in p.steps] == [(1, 0, "in"), (1, 2, "out")]


def test_select_star_with_one_named_twin_returns_its_documents(plant: GraphView) -> None:
    out = run_query(plant, "SELECT * FROM DIGITALTWINS MATCH (a)-[:measures]->() "
                           "WHERE a.$dtId = 's2'").rows
    assert [d["$dtId"] for d in out] == ["s2"]


def test_match_without_hops(plant: GraphView) -> None:
    out = run_query(plant, "SELECT a.tag FROM DIGITALTWINS MATCH (a) WHERE a.$dtId = 'r1'")
    assert out.rows == [{"tag": "R-101"}]


def test_count_and_top_with_match(plant: GraphView) -> None:
    base = "FROM DIGITALTWINS MATCH (a)-[*1..3]-(b) WHERE a.$dtId = 'tk1'"
    n = run_query(plant, f"SELECT COUNT() {base}").rows[0]["COUNT"]
    assert n == len(run_query(plant, f"SELECT b {base}").rows) > 5
    assert len(run_query(plant, f"SELECT TOP(5) b {base}").rows) == 5


# ------------------------------------------------------------------ brute force


@st.composite
def graphs(draw: st.DrawFn) -> tuple[int, list[tuple[int, int, str]]]:
    n = draw(st.integers(1, 4))
    rels = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1),
                                   st.sampled_from(["a", "b"])), max_size=6))
    return n, rels


HOP = st.tuples(
    st.sampled_from(["out", "in", "both"]),
    st.sampled_from([(), ("a",), ("a", "b")]),
    st.one_of(st.none(), st.tuples(st.integers(0, 2), st.integers(0, 2))),  # None: no '*'
    st.booleans(),  # named relationship variable
)


@st.composite
def patterns(draw: st.DrawFn) -> tuple[list[str | None], list[Any], str | None]:
    hops = draw(st.lists(HOP, min_size=1, max_size=3))
    nodes: list[str | None] = ["n0"]
    for _ in hops:
        nodes.append(draw(st.sampled_from([None, "n0", "n1", "n2", "n3"])))
    anchor = draw(st.one_of(st.none(), st.sampled_from(["n0", "n1", "n2"])))
    return nodes, hops, anchor


def _hop_text(i: int, hop: Any) -> str:
    direction, names, rng, named = hop
    inner = f"r{i}" if named else ""
    if names:
        inner += ":" + "|".join(names)
    if rng is not None:
        lo, hi = min(rng), max(rng)
        inner += f"*{lo}..{hi}"
    body = f"-[{inner}]-"
    return {"out": body + ">", "in": "<" + body, "both": body}[direction]


def _brute(n: int, rels: list[tuple[int, int, str]], nodes: list[str | None], hops: list[Any],
           anchor: tuple[str, str] | None) -> Counter[tuple[Any, ...]]:
    names = [x if x is not None else f"_anon{i}" for i, x in enumerate(nodes)]
    variables = list(dict.fromkeys(names))
    twin_ids = [f"t{i}" for i in range(n)]

    def walks(start: int, hop: Any) -> list[tuple[int, tuple[int, ...]]]:
        direction, wanted, rng, _ = hop
        lo, hi = (1, 1) if rng is None else (min(rng), max(rng))
        out = []
        for k in range(lo, hi + 1):
            for seq in itertools.product(range(len(rels)), repeat=k):
                x = start
                for ri in seq:
                    s, t, name = rels[ri]
                    if wanted and name not in wanted:
                        break
                    if direction == "out" and s == x:
                        x = t
                    elif direction == "in" and t == x:
                        x = s
                    elif direction == "both" and x in (s, t):
                        x = t if s == x else s
                    else:
                        break
                else:
                    out.append((x, seq))
        return out

    result: Counter[tuple[Any, ...]] = Counter()
    for assign in itertools.product(range(n), repeat=len(variables)):
        at = dict(zip(variables, assign, strict=True))
        if anchor is not None and twin_ids[at[anchor[0]]] != anchor[1]:
            continue
        options = [[seq for end, seq in walks(at[names[i]], hop) if end == at[names[i + 1]]]
                   for i, hop in enumerate(hops)]
        for combo in itertools.product(*options):
            flat = [r for seq in combo for r in seq]
            if len(flat) != len(set(flat)):
                continue
            row: list[Any] = [(v, twin_ids[at[v]]) for v in variables if v in nodes]
            for i, (hop, seq) in enumerate(zip(hops, combo, strict=True)):
                if hop[3]:
                    ids = tuple(f"x{r}" for r in seq)
                    row.append((f"r{i}", ids if hop[2] is not None else ids[0]))
            result[tuple(sorted(row))] += 1
    return result


@settings(max_examples=150, deadline=None)
@given(graphs(), patterns(), st.integers(0, 3))
def test_match_agrees_with_brute_force(graph: Any, pattern: Any, anchor_twin: int) -> None:
    n, rels = graph
    nodes, hops, anchor_var = pattern
    g = MemoryGraph()
    for i in range(n):
        g.add_twin(f"t{i}", "dtmi:x:T;1")
    for i, (s, t, name) in enumerate(rels):
        g.add_relationship(f"t{s}", name, f"t{t}", rel_id=f"x{i}")
    text = "(" + (nodes[0] or "") + ")"
    for i, hop in enumerate(hops):
        text += _hop_text(i, hop) + "(" + (nodes[i + 1] or "") + ")"
    named_nodes = [v for v in dict.fromkeys(nodes) if v is not None]
    rel_vars = [f"r{i}" for i, hop in enumerate(hops) if hop[3]]
    anchor = None
    where = ""
    if anchor_var is not None and anchor_var in named_nodes:
        anchor = (anchor_var, f"t{anchor_twin}")
        where = f" WHERE {anchor_var}.$dtId = 't{anchor_twin}'"
    query = f"SELECT {', '.join(named_nodes + rel_vars)} FROM DIGITALTWINS MATCH {text}{where}"
    got: Counter[tuple[Any, ...]] = Counter()
    for row in run_query(g, query).rows:
        items: list[Any] = []
        for k, v in row.items():
            if isinstance(v, list):
                items.append((k, tuple(r["$relationshipId"] for r in v)))
            elif "$dtId" in v:
                items.append((k, v["$dtId"]))
            else:
                items.append((k, v["$relationshipId"]))
        got[tuple(sorted(items))] += 1
    assert got == _brute(n, rels, nodes, hops, anchor), query
