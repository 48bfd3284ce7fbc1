"""The record schemas SRU can return: identifier, short names, renderer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from marc.search.availability import CopyStatus
from marc.search.presentation import RawRecord, dublin_core, marcxml, marcxml_with_holdings


@dataclass(frozen=True)
class RecordSchema:
    identifier: str
    names: tuple[str, ...]
    title: str
    render: Callable[[RawRecord, Sequence[CopyStatus]], str]
    needs_holdings: bool = False


MARCXML = RecordSchema(
    "info:srw/schema/1/marcxml-v1.1", ("marcxml", "marc21", "marc"), "MARC21 slim (MARCXML)", lambda r, _: marcxml(r)
)
DUBLIN_CORE = RecordSchema("info:srw/schema/1/dc-v1.1", ("dc",), "Simple Dublin Core", lambda r, _: dublin_core(r))
HOLDINGS = RecordSchema(
    "info:ils-bridge/schema/marcxml-holdings-1",
    ("holdings", "marcxml-holdings"),
    "MARCXML with one 852 (location) and one 876 (status $j, due $d) per copy",
    marcxml_with_holdings,
    needs_holdings=True,
)
SCHEMAS = (MARCXML, DUBLIN_CORE, HOLDINGS)
DEFAULT_SCHEMA = MARCXML


def find_schema(name: str | None) -> RecordSchema | None:
    if not name:
        return DEFAULT_SCHEMA
    for schema in SCHEMAS:
        if name == schema.identifier or name.lower() in schema.names:
            return schema
    return None
