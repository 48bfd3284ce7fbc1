"""SRU operations, independent of HTTP: request parameters in, (status,
content type, body) out.  The HTTP server and tests both call ``handle``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from marc.search.availability import HoldingsSource, NoHoldings
from marc.search.index import SearchIndex
from marc.search.query import Index, QueryError
from marc.search.result_set import ResultSet, fetch_records
from marc.sru import diagnostics as d
from marc.sru import responses
from marc.sru.cql import Modifier, SortKey, cql_to_query, parse, resolve_index
from marc.sru.diagnostics import SruDiagnostic
from marc.sru.explain import (
    DEFAULT_MAXIMUM_RECORDS,
    MAXIMUM_RECORDS,
    MAXIMUM_TERMS,
    explain_record,
)
from marc.sru.schemas import find_schema

XML = "text/xml; charset=utf-8"
VERSIONS = ("1.1", "1.2", "2.0")
COMMON_PARAMETERS = {"operation", "version", "stylesheet", "recordPacking", "recordXMLEscaping", "extraRequestData"}
PARAMETERS = {
    "explain": COMMON_PARAMETERS | {"recordSchema"},
    "searchRetrieve": COMMON_PARAMETERS
    | {"query", "startRecord", "maximumRecords", "recordSchema", "resultSetTTL", "sortKeys", "queryType", "resultCountPrecision", "httpAccept"},
    "scan": COMMON_PARAMETERS | {"scanClause", "responsePosition", "maximumTerms"},
}


@dataclass(frozen=True)
class Response:
    status: int
    content_type: str
    body: bytes
    refused: bool = False  # the answer is a diagnostic instead of what was asked


def operation_of(params: Mapping[str, str]) -> str:
    """The operation a request asks for (a bare ``query`` means searchRetrieve, nothing means explain)."""
    return params.get("operation") or ("searchRetrieve" if "query" in params else "explain")


class SruService:
    def __init__(
        self,
        index: SearchIndex,
        holdings: HoldingsSource | None = None,
        database: str = "opac",
        title: str = "Library catalogue",
        host: str = "localhost",
        port: int = 0,
    ) -> None:
        self.index = index
        self.holdings = holdings or NoHoldings()
        self.database = database
        self.title = title
        self.host = host
        self.port = port

    def handle(self, params: Mapping[str, str]) -> Response:
        version = params.get("version") or "1.2"
        operation = operation_of(params)
        try:
            if version not in VERSIONS:
                version = "1.2"
                raise SruDiagnostic(d.UNSUPPORTED_VERSION, params["version"])
            if operation not in PARAMETERS:
                raise SruDiagnostic(d.UNSUPPORTED_OPERATION, operation)
            unknown = [k for k in params if k not in PARAMETERS[operation] and not k.startswith("x-")]
            if unknown:
                raise SruDiagnostic(d.UNSUPPORTED_PARAMETER, unknown[0])
            if params.get("stylesheet"):
                raise SruDiagnostic(d.STYLESHEETS_NOT_SUPPORTED, params["stylesheet"])
            body = getattr(self, "_" + operation)(version, params)
        except SruDiagnostic as diag:
            body = responses.diagnostic_only(version, diag, operation if operation in PARAMETERS else "explain")
            return Response(200, XML, body, refused=True)
        return Response(200, XML, body)

    # -- operations --------------------------------------------------------
    def _explain(self, version: str, params: Mapping[str, str]) -> bytes:
        ns = responses.namespaces(version)
        record = explain_record(ns.explain, self.host, self.port, self.database, self.title, "2.0" if version == "2.0" else "1.2")
        return responses.explain(version, record)

    def _searchRetrieve(self, version: str, params: Mapping[str, str]) -> bytes:
        if not params.get("query"):
            raise SruDiagnostic(d.MANDATORY_PARAMETER_MISSING, "query")
        if params.get("queryType", "cql") != "cql":
            raise SruDiagnostic(d.UNSUPPORTED_PARAMETER_VALUE, f"queryType={params['queryType']}")
        start = _integer(params, "startRecord", 1, minimum=1)
        maximum = min(_integer(params, "maximumRecords", DEFAULT_MAXIMUM_RECORDS, minimum=0), MAXIMUM_RECORDS)
        escaping = _escaping(version, params)
        schema = find_schema(params.get("recordSchema"))
        if schema is None:
            raise SruDiagnostic(d.UNKNOWN_SCHEMA, params["recordSchema"])
        query, sort = cql_to_query(params["query"])
        sort = sort or _sort_keys_parameter(params.get("sortKeys"))
        try:
            if sort:
                ids = self.index.search(query)
                for key in reversed(sort):  # stable sorts: last key first
                    index, descending = _sort_key(key)
                    ids = self.index.sorted_ids(ids, index, descending)
                count, page = len(ids), ids[start - 1 : start - 1 + maximum]
            else:
                hits = ResultSet.search(self.index, query)
                count, page = len(hits), hits.page(start, maximum)
        except QueryError as error:
            raise SruDiagnostic.from_query_error(error) from None
        if maximum == 0:
            return responses.search_retrieve(version, count, [], escaping, None)
        if start > count:
            diag = SruDiagnostic(d.FIRST_RECORD_OUT_OF_RANGE, str(start)) if count else None
            return responses.search_retrieve(version, count, [], escaping, None, [diag] if diag else [])
        raw = fetch_records(self.index, page)
        copies = self.holdings.copies(page) if schema.needs_holdings else {}
        out = [
            responses.RecordOut(schema.identifier, schema.render(raw[rid], copies.get(rid, [])), start + i)
            for i, rid in enumerate(page)
            if rid in raw
        ]
        following = start + len(page)
        return responses.search_retrieve(version, count, out, escaping, following if following <= count else None)

    def _scan(self, version: str, params: Mapping[str, str]) -> bytes:
        clause_text = params.get("scanClause")
        if not clause_text:
            raise SruDiagnostic(d.MANDATORY_PARAMETER_MISSING, "scanClause")
        position = _integer(params, "responsePosition", 1, minimum=0)
        count = _integer(params, "maximumTerms", 20, minimum=1)
        if count > MAXIMUM_TERMS:
            raise SruDiagnostic(d.TOO_MANY_SCAN_TERMS, str(count))
        if position > count + 1:
            raise SruDiagnostic(d.SCAN_POSITION_OUT_OF_RANGE, str(position))
        tree = parse(clause_text).tree
        if not hasattr(tree, "term"):
            raise SruDiagnostic(d.QUERY_SYNTAX_ERROR, "scanClause must be a single index relation term")
        index = resolve_index(tree.index, tree.prefixes)
        if index is None or index is Index.YEAR:
            raise SruDiagnostic(d.UNSUPPORTED_INDEX, f"{tree.index} cannot be scanned")
        return responses.scan(version, self.index.scan(index, tree.term.rstrip("*"), count, max(position, 1)))


def _integer(params: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SruDiagnostic(d.UNSUPPORTED_PARAMETER_VALUE, f"{name}={raw}") from None
    if value < minimum:
        raise SruDiagnostic(d.UNSUPPORTED_PARAMETER_VALUE, f"{name}={raw}")
    return value


def _escaping(version: str, params: Mapping[str, str]) -> str:
    """1.x calls it recordPacking; 2.0 recordXMLEscaping (2.0's recordPacking is packed/unpacked)."""
    name = "recordXMLEscaping" if version == "2.0" else "recordPacking"
    value = params.get(name, "xml")
    if version == "2.0" and params.get("recordPacking", "packed") not in ("packed", "unpacked"):
        raise SruDiagnostic(d.UNSUPPORTED_RECORD_PACKING, params["recordPacking"])
    if value not in ("xml", "string"):
        raise SruDiagnostic(d.UNSUPPORTED_RECORD_PACKING, value)
    return value


def _sort_keys_parameter(value: str | None) -> list[SortKey]:
    """SRU 1.1 ``sortKeys``: space-separated ``path,schema,ascending`` triples."""
    keys = []
    for part in (value or "").split():
        path, _, rest = part.partition(",")
        ascending = rest.split(",")[1] if rest.count(",") >= 1 else "1"
        keys.append(SortKey(path, () if ascending != "0" else (Modifier("sort.descending"),)))
    return keys


def _sort_key(key: SortKey) -> tuple[Index, bool]:
    index = resolve_index(key.index)
    if index not in (Index.TITLE, Index.YEAR):
        raise SruDiagnostic(d.SORT_NOT_SUPPORTED, f"sort by {key.index}")
    descending = False
    for mod in key.modifiers:
        name = mod.name.removeprefix("sort.")
        if name in ("descending", "ascending"):
            descending = name == "descending"
        elif name not in ("ignorecase", "ignoreaccents"):
            raise SruDiagnostic(d.SORT_NOT_SUPPORTED, f"sort modifier {mod.name}")
    return index, descending
