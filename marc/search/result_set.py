"""Result sets that are counted at search time and fetched a page at a time.

Fetching every hit's id to answer a search costs time in proportion to the
hits (thousands of ids for a common word, four times as many in a catalogue
four times the size), while a Z39.50 origin usually presents only the first
few.  So a search asks the database for the first ``FIRST_PAGE`` ids in one
statement; when fewer come back, those are the whole (exact, frozen) result
set, else a ``count(*)`` in the database gives its size and later pages are
fetched on demand by offset.

Both statements run on the pooled DB-API connection directly: these hot
paths read a column of integers, and SQLAlchemy's result layer costs more
than the database work for them.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine

from marc.search.index import ResultSets, SearchIndex
from marc.search.query import Bool, Query, ResultSetRef

FIRST_PAGE = 64  # ids fetched with the search: covers most result sets whole, and any first present


class _HeldConnections(threading.local):
    """Per thread: one pooled SQLite connection per engine, checked out once and
    kept.  A pool checkout costs as much as the statement it serves; the app's
    SQLite connections run SELECTs outside transactions, so a held one never
    pins an old snapshot."""

    def __init__(self) -> None:
        self.by_engine: weakref.WeakKeyDictionary[Engine, Any] = weakref.WeakKeyDictionary()

    def get(self, engine: Engine) -> Any:
        connection = self.by_engine.get(engine)
        if connection is None:
            connection = self.by_engine[engine] = engine.raw_connection()
        return connection


_held = _HeldConnections()


def fetch_all(engine: Engine, sql: str, params: dict) -> list[Any]:
    """The rows of one statement on the DB-API connection: on SQLite this thread's
    held connection, elsewhere a pooled connection returned (rolled back) afterwards."""
    if engine.dialect.name == "sqlite":
        return _held.get(engine).execute(sql, params).fetchall()
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        try:
            cursor.execute(sql, params)
            return cursor.fetchall()
        finally:
            cursor.close()
    finally:
        connection.close()


def _mentions_result_set(query: Query) -> bool:
    if isinstance(query, ResultSetRef):
        return True
    return isinstance(query, Bool) and (_mentions_result_set(query.left) or _mentions_result_set(query.right))


class ResultSet:
    """The hits of one search, in ascending record id order."""

    def __init__(self, index: SearchIndex, ids: Sequence[int], count: int, sql: tuple[str, dict] | None = None) -> None:
        self.index = index
        self._ids = list(ids)  # the first len(_ids) hits
        self.count = count
        self._sql = sql  # the search, to fetch hits past the ones held

    def __len__(self) -> int:
        return self.count

    @classmethod
    def of_ids(cls, index: SearchIndex, ids: Sequence[int]) -> ResultSet:
        return cls(index, ids, len(ids))

    @classmethod
    def search(cls, index: SearchIndex, query: Query, result_sets: ResultSets | None = None) -> ResultSet:
        """Run ``query``; a query over earlier result sets is evaluated whole (see ``SearchIndex.search``)."""
        if _mentions_result_set(query):
            return cls.of_ids(index, index.search(query, result_sets))
        sql, params = index.ordered_ids_sql(query)
        first = [row[0] for row in fetch_all(index.engine, f"{sql} LIMIT {FIRST_PAGE + 1}", params)]
        if len(first) <= FIRST_PAGE:
            return cls.of_ids(index, first)
        count = fetch_all(index.engine, f"SELECT count(*) FROM ({sql}) hits", params)[0][0]
        return cls(index, first[:FIRST_PAGE], count, (sql, params))

    def page(self, start: int, size: int) -> list[int]:
        """Hits ``start``..``start+size-1`` (1-based), as many as exist."""
        end = min(start - 1 + size, self.count)
        if end < start:
            return []
        if end <= len(self._ids) or self._sql is None:
            return self._ids[start - 1 : end]
        sql, params = self._sql
        rows = fetch_all(self.index.engine, f"{sql} LIMIT {int(end - start + 1)} OFFSET {int(start - 1)}", params)
        return [row[0] for row in rows]

    def ids(self) -> list[int]:
        """Every hit (fetched once, then held): for sorting and for queries over this set."""
        if self._sql is not None and len(self._ids) < self.count:
            sql, params = self._sql
            self._ids = [row[0] for row in fetch_all(self.index.engine, sql, params)]
            self.count, self._sql = len(self._ids), None
        return self._ids


def fetch_records(index: SearchIndex, ids: Sequence[int]) -> dict[int, bytes]:
    """The stored ISO 2709 bytes of these records (what ``SearchIndex.records`` gives), in one statement."""
    if not ids:
        return {}
    params = {f"i{n}": int(rid) for n, rid in enumerate(ids)}
    marks = ", ".join(index.placeholder(name) for name in params)
    rows = fetch_all(index.engine, f"SELECT id, marc FROM bib_records WHERE id IN ({marks})", params)
    return {row[0]: bytes(row[1]) for row in rows}
