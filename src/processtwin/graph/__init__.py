"""The twin graph: twin instances validated against their DTDL models, relationships between
them, and the query language that walks it.

The shapes follow Azure Digital Twins so that its users meet what they know: a twin is a JSON
document with ``$dtId``, ``$etag`` and ``$metadata.$model`` beside its property values; a
relationship has ``$relationshipId``, ``$sourceId``, ``$targetId`` and ``$relationshipName``.
"""

from __future__ import annotations

from processtwin.graph.graph import ImportResult, TwinGraph
from processtwin.graph.migration import Change, MigrationReport, TwinMigration
from processtwin.graph.types import GraphView, RelDoc, TwinDoc
from processtwin.graph.validate import Validators

__all__ = ["Change", "GraphView", "ImportResult", "MigrationReport", "RelDoc", "TwinDoc",
           "TwinGraph", "TwinMigration", "Validators"]
