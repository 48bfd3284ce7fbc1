"""The search index interface, shared by the SQLite and PostgreSQL backends.

Callers use ``open_index(engine)`` and then ``index_record``/``remove_record``
when records are imported or edited, ``rebuild()`` after bulk loads,
``search(query)`` for record ids (ascending), ``scan`` for browse lists and
``records(ids)`` for the stored ISO 2709 bytes.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import pymarc
from sqlalchemy import Connection, Engine, delete, select

from ils_bridge.storage.schema import bib_records
from marc.search.fields import EXTRACTED_INDEXES, extract
from marc.search.normalize import VALUE_END, VALUE_START, token_texts
from marc.search.query import (
    PHRASE_INDEXES,
    Bool,
    BoolOp,
    Index,
    Problem,
    Query,
    QueryError,
    ResultSetRef,
)
from marc.search.tables import search_docs

SORT_COLUMNS = {Index.TITLE: search_docs.c.sort_title, Index.YEAR: search_docs.c.year}
ResultSets = Callable[[str], Sequence[int]]


@dataclass(frozen=True)
class ScanEntry:
    term: str
    count: int


_PHRASE_INDEXES = frozenset(PHRASE_INDEXES)


def index_texts(values: Mapping[Index, list[str]]) -> dict[Index, str]:
    """Per index, the tokens of its values joined by single spaces: the record's index text.

    Values of phrase indexes are bracketed by sentinels (for first-in-field /
    exact); the others are tokenised as one text (tokens never span a space).
    Every value of the record is tokenised in one ``token_texts`` call."""
    flat = [value for index_values in values.values() for value in index_values]
    value_texts = token_texts(flat)
    texts: dict[Index, str] = {}
    position = 0
    for index, index_values in values.items():
        own = value_texts[position : position + len(index_values)]
        position += len(index_values)
        if index in _PHRASE_INDEXES:
            texts[index] = " ".join([f"{VALUE_START} {text} {VALUE_END}" for text in own if text])
        else:
            texts[index] = " ".join([text for text in own if text])
    return texts


class IndexDoc(NamedTuple):
    """What the index stores of one record, worked out before any database
    is touched (an import does it in its reading process): plain strings
    and numbers, cheap to send between processes."""

    year: int | None
    sort_title: str
    texts: tuple[str, ...]  # index_texts, in the order of fields.EXTRACTED_INDEXES

    def texts_by_index(self) -> dict[Index, str]:
        return dict(zip(EXTRACTED_INDEXES, self.texts))


def index_doc(record: pymarc.Record) -> IndexDoc:
    """A record's ``IndexDoc``: its extracted values, tokenised."""
    extracted = extract(record)
    texts = index_texts(extracted.values)
    return IndexDoc(extracted.year, extracted.sort_title, tuple(texts[index] for index in EXTRACTED_INDEXES))


EMPTY_DOC = IndexDoc(None, "", ("",) * len(EXTRACTED_INDEXES))  # a record that cannot be read


def _contains_result_set(query: Query) -> bool:
    if isinstance(query, ResultSetRef):
        return True
    return isinstance(query, Bool) and (_contains_result_set(query.left) or _contains_result_set(query.right))


class SearchIndex(abc.ABC):
    """One library's (or every library's, with ``library_id=None``) searchable records."""

    def __init__(self, engine: Engine, library_id: int | None = None, *, prepare: bool = True) -> None:
        self.engine = engine
        self.library_id = library_id
        if prepare:
            with engine.begin() as conn:
                self.prepare(conn)

    def prepare(self, conn: Connection) -> None:
        """Create the index's tables if missing, in ``conn``'s transaction."""
        search_docs.create(conn, checkfirst=True)  # in case the schema was created without it
        self.create(conn)

    # -- backend hooks -----------------------------------------------------
    @abc.abstractmethod
    def create(self, conn: Connection) -> None:
        """Create the backend's full-text structures if missing."""

    @abc.abstractmethod
    def _write_texts(self, conn: Connection, docs: list[tuple[int, dict[Index, str]]]) -> None:
        """Store the index texts (``index_texts``) of these (record id, texts) pairs."""

    @abc.abstractmethod
    def _delete_texts(self, conn: Connection, record_ids: list[int]) -> None: ...

    @abc.abstractmethod
    def _clear_text(self, conn: Connection) -> None: ...

    @abc.abstractmethod
    def _merge_segments(self, conn: Connection) -> None:
        """Merge the structures many small writes leave behind (see ``merge_segments``)."""

    @abc.abstractmethod
    def _search_sql(self, query: Query) -> tuple[str, dict]:
        """SQL (driver parameter style) selecting the matching record ids as column ``id``."""

    @staticmethod
    @abc.abstractmethod
    def placeholder(name: str) -> str:
        """A named parameter in the DB-API driver's own style: hot paths skip SQLAlchemy's compiler."""

    @abc.abstractmethod
    def scan(self, index: Index, start: str, count: int, position: int = 1) -> list[ScanEntry]:
        """``count`` index terms around ``start``; ``start`` is entry number ``position`` (1-based)."""

    # -- keeping the index current ----------------------------------------
    def index_record(self, record_id: int) -> None:
        """(Re)index one record; a deleted or missing record is removed."""
        with self.engine.begin() as conn:
            self.reindex(conn, [record_id])

    def remove_record(self, record_id: int) -> None:
        with self.engine.begin() as conn:
            self._remove(conn, [record_id])

    def reindex(
        self, conn: Connection, record_ids: Sequence[int], parsed: Mapping[int, object] | None = None
    ) -> None:
        """(Re)index these records inside ``conn``'s transaction, so the index
        commits (or rolls back) together with the writes that changed them.

        ``parsed`` may give, by record id, the pymarc record of the stored
        bytes, already decoded by the writer, or its ``IndexDoc``: those are
        not decoded again."""
        parsed = parsed or {}
        for start in range(0, len(record_ids), 500):
            chunk = list(dict.fromkeys(record_ids[start : start + 500]))
            rows = conn.execute(
                select(bib_records.c.id, bib_records.c.library_id)
                .where(bib_records.c.id.in_(chunk), bib_records.c.deleted.is_(False))
                .order_by(bib_records.c.id)
            ).all()
            self._remove(conn, chunk)
            if rows:
                stored = self._stored_marc(conn, [row.id for row in rows if parsed.get(row.id) is None])
                self._add(conn, [(row.id, row.library_id, parsed.get(row.id) or stored[row.id]) for row in rows])

    @staticmethod
    def _stored_marc(conn: Connection, record_ids: list[int]) -> dict[int, bytes]:
        """The stored ISO 2709 of the records the writer gave no decoded form for."""
        if not record_ids:
            return {}
        rows = conn.execute(select(bib_records.c.id, bib_records.c.marc).where(bib_records.c.id.in_(record_ids)))
        return {row.id: bytes(row.marc) for row in rows}

    def catch_up(self) -> int:
        """Index the live records the index lacks and drop the deleted ones it
        still holds (records written by a process without the catalogue's
        hook, or before the index existed); returns how many changed."""
        indexed = select(search_docs.c.record_id).where(search_docs.c.record_id == bib_records.c.id).exists()
        with self.engine.begin() as conn:
            missing = conn.scalars(select(bib_records.c.id).where(bib_records.c.deleted.is_(False), ~indexed)).all()
            deleted = conn.scalars(
                select(search_docs.c.record_id)
                .join(bib_records, bib_records.c.id == search_docs.c.record_id)
                .where(bib_records.c.deleted.is_(True))
            ).all()
            self.reindex(conn, [*missing, *deleted])
        return len(missing) + len(deleted)

    def rebuild(self, batch: int = 2000) -> int:
        """Index every live record from scratch; returns how many were indexed."""
        done = 0
        with self.engine.begin() as conn:
            self._clear_text(conn)
            conn.execute(delete(search_docs))
            last = 0
            while True:
                rows = conn.execute(
                    select(bib_records.c.id, bib_records.c.library_id, bib_records.c.marc)
                    .where(bib_records.c.id > last, bib_records.c.deleted.is_(False))
                    .order_by(bib_records.c.id)
                    .limit(batch)
                ).all()
                if not rows:
                    return done
                self._add(conn, [(row.id, row.library_id, bytes(row.marc)) for row in rows])
                done += len(rows)
                last = rows[-1].id

    def merge_segments(self) -> float:
        """Merge the index's pieces into as few as possible; returns the seconds it took.

        Every import batch adds its own small piece to the full-text index, and
        a search reads all of them: after a rebuild or a large import, merging
        them roughly halves the CPU a search takes.  It rewrites the whole
        index in one transaction, so it belongs after bulk loads, never after
        each batch."""
        started = time.perf_counter()
        with self.engine.begin() as conn:
            self._merge_segments(conn)
        return time.perf_counter() - started

    def _remove(self, conn: Connection, record_ids: list[int]) -> None:
        self._delete_texts(conn, record_ids)
        conn.execute(delete(search_docs).where(search_docs.c.record_id.in_(record_ids)))

    def _add(self, conn: Connection, records: list[tuple[int, int, bytes | object]]) -> None:
        """Index (record id, library id, ISO 2709, pymarc record or IndexDoc) triples, in one statement per table."""
        docs, texts = [], []
        for record_id, library_id, marc in records:
            doc = self._doc_of(marc)
            docs.append({"record_id": record_id, "library_id": library_id, "year": doc.year, "sort_title": doc.sort_title})
            texts.append((record_id, doc.texts_by_index()))
        conn.exec_driver_sql(self._insert_docs_sql(), docs)  # many rows: SQLAlchemy's per-row work is skipped
        self._write_texts(conn, texts)

    def _insert_docs_sql(self) -> str:
        """The INSERT of ``search_docs`` rows (dicts keyed by column), in the driver's parameter style."""
        columns = ("record_id", "library_id", "year", "sort_title")
        marks = ", ".join(self.placeholder(column) for column in columns)
        return f"INSERT INTO search_docs ({', '.join(columns)}) VALUES ({marks})"

    @staticmethod
    def _doc_of(marc: bytes | object) -> IndexDoc:
        if isinstance(marc, IndexDoc):
            return marc
        if isinstance(marc, pymarc.Record):
            return index_doc(marc)
        try:
            record = pymarc.Record(data=marc, to_unicode=True, force_utf8=True)
        except Exception:  # noqa: BLE001 - pymarc raises many types; a broken record is indexed empty, never a crash
            return EMPTY_DOC
        return index_doc(record)

    # -- reading -----------------------------------------------------------
    def search(self, query: Query, result_sets: ResultSets | None = None) -> list[int]:
        """Ids of the live records matching ``query``, ascending."""
        if _contains_result_set(query):
            return sorted(self._evaluate(query, result_sets))
        final, params = self.ordered_ids_sql(query)
        with self.engine.connect() as conn:
            return [r[0] for r in conn.exec_driver_sql(final, params).fetchall()]

    def count_and_page(self, query: Query, start: int, size: int) -> tuple[int, list[int]]:
        """(number of hits, ids of hits ``start``..``start+size-1`` (1-based)) without
        fetching every id: what a page of SRU results needs."""
        if _contains_result_set(query):
            ids = self.search(query)
            return len(ids), ids[start - 1 : start - 1 + size]
        final, params = self.ordered_ids_sql(query)
        with self.engine.connect() as conn:
            count = conn.exec_driver_sql(f"SELECT count(*) FROM ({final}) c", params).scalar_one()
            if size <= 0 or start > count:
                return count, []
            params |= {"page_size": size, "page_offset": start - 1}
            page = conn.exec_driver_sql(
                f"{final} LIMIT {self.placeholder('page_size')} OFFSET {self.placeholder('page_offset')}", params
            ).fetchall()
        return count, [r[0] for r in page]

    def ordered_ids_sql(self, query: Query) -> tuple[str, dict]:
        """SQL for the matching ids in ascending order, and its parameters."""
        sql, params = self._search_sql(query)
        if self.library_id is None:
            # The full-text structures hold exactly the live records: no join needed.
            return f"SELECT s.id FROM ({sql}) s ORDER BY s.id", params
        params["library_id"] = self.library_id
        scoped = (
            f"SELECT d.record_id FROM search_docs d WHERE d.record_id IN ({sql})"
            f" AND d.library_id = {self.placeholder('library_id')} ORDER BY d.record_id"
        )
        return scoped, params

    def _evaluate(self, query: Query, result_sets: ResultSets | None) -> set[int]:
        """Set algebra in Python, for trees that mention earlier result sets."""
        if isinstance(query, ResultSetRef):
            if result_sets is None:
                raise QueryError(Problem.UNKNOWN_RESULT_SET, query.name)
            return set(result_sets(query.name))
        if not isinstance(query, Bool):
            return set(self.search(query))
        if query.op is BoolOp.PROX:
            raise QueryError(Problem.UNSUPPORTED_PROXIMITY, "proximity with a result set")
        left, right = self._evaluate(query.left, result_sets), self._evaluate(query.right, result_sets)
        return {BoolOp.AND: left & right, BoolOp.OR: left | right, BoolOp.NOT: left - right}[query.op]

    def sorted_ids(self, ids: Sequence[int], index: Index, descending: bool = False) -> list[int]:
        """``ids`` ordered by title or year (records without the key last)."""
        column = SORT_COLUMNS.get(index)
        if column is None:
            raise QueryError(Problem.UNSUPPORTED_INDEX, f"cannot sort by {index.value}")
        keys: dict[int, object] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                chunk = list(ids[start : start + 500])
                rows = conn.execute(select(search_docs.c.record_id, column).where(search_docs.c.record_id.in_(chunk)))
                keys.update({r[0]: r[1] for r in rows})
        present = sorted((i for i in ids if keys.get(i) is not None), key=lambda i: keys[i], reverse=descending)
        return present + [i for i in ids if keys.get(i) is None]

    def resolve_ids(self, identifiers: Sequence[str]) -> dict[str, int]:
        """Record ids for external identifiers: a record id, else a 001 control number."""
        found: dict[str, int] = {}
        with self.engine.connect() as conn:
            for ident in identifiers:
                cond = bib_records.c.control_number == ident
                if ident.isdigit():
                    cond = cond | (bib_records.c.id == int(ident))
                query = select(bib_records.c.id).where(cond, bib_records.c.deleted.is_(False))
                if self.library_id is not None:
                    query = query.where(bib_records.c.library_id == self.library_id)
                row = conn.execute(query.order_by(bib_records.c.id).limit(1)).first()
                if row is not None:
                    found[ident] = row.id
        return found

    def records(self, ids: Sequence[int]) -> dict[int, bytes]:
        """The stored ISO 2709 bytes of these records."""
        if not ids:
            return {}
        params = {f"i{n}": int(rid) for n, rid in enumerate(ids)}
        marks = ", ".join(self.placeholder(name) for name in params)
        with self.engine.connect() as conn:
            rows = conn.exec_driver_sql(f"SELECT id, marc FROM bib_records WHERE id IN ({marks})", params).fetchall()
        return {r[0]: bytes(r[1]) for r in rows}


def backend_for(dialect: str) -> type[SearchIndex]:
    """The index class for a database dialect."""
    if dialect == "sqlite":
        from marc.search.sqlite_fts import SqliteIndex

        return SqliteIndex
    if dialect == "postgresql":
        from marc.search.postgres_fts import PostgresIndex

        return PostgresIndex
    raise ValueError(f"no search backend for {dialect}")


def open_index(engine: Engine, library_id: int | None = None) -> SearchIndex:
    """The index backend for this engine's database."""
    return backend_for(engine.dialect.name)(engine, library_id)
