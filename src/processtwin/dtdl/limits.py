"""Numeric limits that the DTDL language versions set.

    >>> LIMITS[2].name_length, LIMITS[3].name_length
    (64, 512)
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LIMITS", "Limits"]


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits of one DTDL version (``None`` means unlimited)."""

    name_length: int
    display_name_length: int
    description_length: int
    comment_length: int
    interface_id_length: int
    contents_count: int | None
    extends_count: int | None
    extends_depth: int
    extends_total: int | None
    schema_depth: int
    enum_values_count: int | None
    fields_count: int | None
    relationship_properties_count: int | None
    max_multiplicity: int | None
    hierarchy_elements: int | None


LIMITS: dict[int, Limits] = {
    2: Limits(
        name_length=64,
        display_name_length=64,
        description_length=512,
        comment_length=512,
        interface_id_length=128,
        contents_count=300,
        extends_count=2,
        extends_depth=10,
        extends_total=None,
        schema_depth=5,
        enum_values_count=100,
        fields_count=30,
        relationship_properties_count=300,
        max_multiplicity=500,
        hierarchy_elements=None,
    ),
    3: Limits(
        name_length=512,
        display_name_length=512,
        description_length=512,
        comment_length=512,
        interface_id_length=128,
        contents_count=None,
        extends_count=None,
        extends_depth=10,
        extends_total=1024,
        schema_depth=5,
        enum_values_count=None,
        fields_count=None,
        relationship_properties_count=None,
        max_multiplicity=None,
        hierarchy_elements=100_000,
    ),
}
LIMITS[4] = LIMITS[3]
