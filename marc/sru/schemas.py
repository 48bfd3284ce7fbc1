"""The record schemas SRU can return: identifier, short names, renderer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from marc.search.availability import CopyStatus
from marc.search.presentation import (
    dublin_core,
    marcxml_from_iso2709,
    marcxml_with_holdings,
    parse_iso2709,
)


@dataclass(frozen=True)
class RecordSchema:
    identifier: str
    names: tuple[str, ...]
    title: str
    render: Callable[[bytes, Sequence[CopyStatus]], str]  # stored ISO 2709 -> XML text
    needs_holdings: bool = False


MARCXML = RecordSchema(
    "info:srw/schema/1/marcxml-v1.1", ("marcxml", "marc21", "marc"), "MARC21 slim (MARCXML)", lambda raw, _: marcxml_from_iso2709(raw)
)
DUBLIN_CORE = RecordSchema("info:srw/schema/1/dc-v1.1", ("dc",), "Simple Dublin Core", lambda raw, _: dublin_core(parse_iso2709(raw)))
HOLDINGS = RecordSchema(
    "info:ils-bridge/schema/marcxml-holdings-1",
    ("holdings", "marcxml-holdings"),
    "MARCXML with one 852 (location) and one 876 (status $j, due $d) per copy",
    lambda raw, copies: marcxml_with_holdings(parse_iso2709(raw), copies),
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
