"""The Azure Digital Twins query language over a twin graph.

Supported (keywords case-insensitive)::

    SELECT [DISTINCT] [TOP(n)] * | COUNT() | T, CT.name AS n, T.$metadata.$model, ...
    FROM DIGITALTWINS [T] [JOIN CT RELATED T.contains [R]]...
    FROM DIGITALTWINS MATCH (a)-[r:feeds|drains*1..3]->(b)<-[:contains]-(c)-[*2]-(d)
    FROM RELATIONSHIPS [R]
    WHERE = != < <= > >= | IN [..] | NIN [..] | NOT IN [..] | AND OR NOT ( )
          IS_OF_MODEL([T,] 'dtmi:..;1'[, exact]) | IS_DEFINED IS_NULL IS_BOOL IS_NUMBER
          IS_STRING IS_PRIMITIVE IS_OBJECT IS_ARRAY | STARTSWITH ENDSWITH CONTAINS

Where it differs from Azure Digital Twins, on purpose:

* a MATCH needs no ``$dtId`` anchor, and filters may apply to every variable (twins and
  relationships alike); when the WHERE pins a ``$dtId`` (``=`` or ``IN``) the walk starts
  there, at any position of the pattern, else the twins are scanned (see :mod:`.planner`);
* ``[r*1..3]`` binds ``r`` to the list of relationships of the path (``r[0].since``);
* MATCH rows are paths whose relationships are pairwise distinct (see :mod:`.execute`);
* a path missing from a twin document falls back to the twin's live telemetry
  (``WHERE reactor.T_R > 140``; see :mod:`.expressions`).

Limits: :data:`MAX_QUERY_LENGTH` characters, :data:`MAX_HOPS` hops per MATCH (sum of the upper
bounds; a ``*`` hop needs an upper bound), :data:`MAX_JOINS` JOINs, :data:`MAX_NESTING` levels of
nesting. Every syntax or semantic error, limits included, raises
:class:`~processtwin.errors.QueryError` with the 0-based ``position`` of the offending token.

    >>> g = MemoryGraph(extends={"dtmi:ex:Reactor;1": ["dtmi:ex:Equipment;1"]})
    >>> _ = g.add_twin("area1", "dtmi:ex:Area;1")
    >>> _ = g.add_twin("r1", "dtmi:ex:Reactor;1", {"volume": 10.0})
    >>> _ = g.add_relationship("area1", "contains", "r1")
    >>> run_query(g, "SELECT CT.$dtId AS id, CT.volume FROM DIGITALTWINS T "
    ...              "JOIN CT RELATED T.contains WHERE T.$dtId = 'area1' "
    ...              "AND IS_OF_MODEL(CT, 'dtmi:ex:Equipment;1')").rows
    [{'id': 'r1', 'volume': 10.0}]
"""

from __future__ import annotations

from processtwin.graph.query.lexer import MAX_QUERY_LENGTH
from processtwin.graph.query.memgraph import MemoryGraph
from processtwin.graph.query.parser import MAX_NESTING
from processtwin.graph.query.resolve import MAX_HOPS, MAX_JOINS
from processtwin.graph.query.run import QueryResult, iter_query, parse_query, run_query
from processtwin.graph.query.syntax import Query

__all__ = [
    "MAX_HOPS", "MAX_JOINS", "MAX_NESTING", "MAX_QUERY_LENGTH", "MemoryGraph", "Query",
    "QueryResult", "iter_query", "parse_query", "run_query",
]
