"""The ZeeRex explain record, generated from the same tables the server uses,
so it lists exactly the indexes, relations and schemas that work."""

from __future__ import annotations

from lxml import etree

from marc.search.query import Index
from marc.sru.cql import CONTEXT_SETS, INDEXES, ORDER_RELATIONS, TEXT_RELATIONS
from marc.sru.schemas import DEFAULT_SCHEMA, SCHEMAS

DEFAULT_MAXIMUM_RECORDS = 10
MAXIMUM_RECORDS = 100
MAXIMUM_TERMS = 100


def explain_record(ns: str, host: str, port: int, database: str, title: str, version: str) -> etree._Element:
    root = etree.Element(f"{{{ns}}}explain", nsmap={None: ns})

    def sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
        el = etree.SubElement(parent, f"{{{ns}}}{tag}", **attrs)
        if text is not None:
            el.text = text
        return el

    server = sub(root, "serverInfo", protocol="SRU", version=version)
    sub(server, "host", host)
    sub(server, "port", str(port))
    sub(server, "database", database)
    info = sub(root, "databaseInfo")
    sub(info, "title", title, lang="en", primary="true")

    index_info = sub(root, "indexInfo")
    used_sets = sorted({s for s, _ in INDEXES} | {"cql"})
    for name in used_sets:
        sub(index_info, "set", name=name, identifier=CONTEXT_SETS[name])
    by_index: dict[Index, list[tuple[str, str]]] = {}
    for (set_name, index_name), index in INDEXES.items():
        by_index.setdefault(index, []).append((set_name, index_name))
    for index, names in by_index.items():
        el = sub(index_info, "index", id=index.value)
        sub(el, "title", index.value)
        for set_name, index_name in names:
            sub(sub(el, "map"), "name", index_name, set=set_name)
    all_records = sub(index_info, "index", id="allRecords")
    sub(all_records, "title", "all records")
    sub(sub(all_records, "map"), "name", "allRecords", set="cql")

    schema_info = sub(root, "schemaInfo")
    for schema in SCHEMAS:
        el = sub(schema_info, "schema", identifier=schema.identifier, name=schema.names[0], retrieve="true")
        sub(el, "title", schema.title)

    config = sub(root, "configInfo")
    sub(config, "default", str(DEFAULT_MAXIMUM_RECORDS), type="numberOfRecords")
    sub(config, "default", DEFAULT_SCHEMA.names[0], type="retrieveSchema")
    sub(config, "setting", str(MAXIMUM_RECORDS), type="maximumRecords")
    sub(config, "setting", str(MAXIMUM_TERMS), type="maximumTerms")
    for relation in [*TEXT_RELATIONS, *ORDER_RELATIONS, "within"]:
        sub(config, "supports", relation, type="relation")
    for boolean in ("and", "or", "not", "prox"):
        sub(config, "supports", boolean, type="booleanModifier" if boolean == "prox" else "boolean")
    for modifier in ("ignoreCase", "ignoreAccents", "masked", "unmasked", "word"):
        sub(config, "supports", modifier, type="relationModifier")
    sub(config, "supports", "*", type="maskingCharacter")
    sub(config, "supports", "^", type="anchoring")
    sub(config, "supports", "", type="scan")
    sub(config, "supports", "", type="sort")
    return root
