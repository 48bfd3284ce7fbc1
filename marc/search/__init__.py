"""Search index over bibliographic records, and the query model SRU and Z39.50 share."""

from marc.search.availability import (
    CopyState,
    CopyStatus,
    HoldingsSource,
    LibraryHoldings,
    NoHoldings,
)
from marc.search.index import ScanEntry, SearchIndex, open_index
from marc.search.query import (
    AllRecords,
    Bool,
    BoolOp,
    Clause,
    Index,
    Problem,
    Proximity,
    Query,
    QueryError,
    Relation,
    ResultSetRef,
    Truncation,
)

__all__ = [
    "AllRecords", "Bool", "BoolOp", "Clause", "CopyState", "CopyStatus", "HoldingsSource", "Index", "LibraryHoldings",
    "NoHoldings", "Problem", "Proximity", "Query", "QueryError", "Relation", "ResultSetRef", "ScanEntry", "SearchIndex",
    "Truncation", "open_index",
]
