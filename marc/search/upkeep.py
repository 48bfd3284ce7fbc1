"""Keeping the index current as the catalogue changes.

The catalogue service (``ils_bridge.services.catalogue.records_changed``)
calls ``reindex_changed`` with the ids of the records a transaction added,
replaced or deleted (with the pymarc records the writer had already decoded,
which spares decoding the stored bytes again), before that transaction
commits: the index entries land (or roll back) with the records, and a
record is searchable the moment its
import batch or ``Library.add_title`` commits.  The hook is named in
``catalogue.RECORD_HOOKS``, so every process that writes records runs it.

Each batch so indexed adds a small piece to the full-text index; after a
rebuild or an import of ``MERGE_AFTER_RECORDS`` records or more,
``merge_after_bulk_load`` merges the pieces (once, not per batch).
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence

from sqlalchemy import Connection, Engine

from marc.search.index import SearchIndex, backend_for, open_index

# An import that wrote at least this many records merges the index at its end.
MERGE_AFTER_RECORDS = 5_000

# One writer per engine, its tables checked once per process.
_writers: weakref.WeakKeyDictionary[Engine, SearchIndex] = weakref.WeakKeyDictionary()


def reindex_changed(conn: Connection, record_ids: Sequence[int], parsed: Mapping[int, object] | None = None) -> None:
    """(Re)index these records in ``conn``'s open transaction."""
    _writer(conn).reindex(conn, record_ids, parsed)


def _writer(conn: Connection) -> SearchIndex:
    writer = _writers.get(conn.engine)
    if writer is None:
        writer = backend_for(conn.dialect.name)(conn.engine, prepare=False)
        writer.prepare(conn)  # on this connection: another one would wait for this transaction's lock
        _writers[conn.engine] = writer
    return writer



def merge_after_bulk_load(engine: Engine) -> float:
    """Merge the search index after a rebuild or a large import; returns the seconds it took."""
    return open_index(engine).merge_segments()
