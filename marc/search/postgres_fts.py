"""PostgreSQL backend: one ``tsvector`` per record with a GIN index.

Tokens come from ``normalize`` (the same as on SQLite) and are stored as a
tsvector literal, each prefixed with its index name (``title:war``), so one
tsquery can combine clauses on different indexes and PostgreSQL's own parser
never re-tokenises CJK or folded text.
"""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, text

from marc.search.compile import Compiler
from marc.search.index import ScanEntry, SearchIndex
from marc.search.normalize import fold
from marc.search.query import BoolOp, Index

DDL = (
    (
        "CREATE TABLE IF NOT EXISTS search_pg ("
        " record_id BIGINT PRIMARY KEY REFERENCES bib_records(id) ON DELETE CASCADE,"
        " doc TSVECTOR NOT NULL)"
    ),
    "CREATE INDEX IF NOT EXISTS ix_search_pg_doc ON search_pg USING GIN (doc)",
)
DELETE_TEXTS = text("DELETE FROM search_pg WHERE record_id IN :ids").bindparams(bindparam("ids", expanding=True))
MAX_POSITION = 16383  # PostgreSQL's limit; later tokens share it
INDEX_GAP = 50  # keeps phrases from running across two indexes


def _lexeme(index: Index, token: str) -> str:
    return "'" + f"{index.value}:{token}".replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(texts: dict[Index, str]) -> str:
    """A tsvector of a record's index texts (``index_texts``): each token an
    index-qualified lexeme at its position, the indexes kept apart by a gap."""
    parts = []
    position = 1
    for index, index_text in texts.items():
        for tok in index_text.split():
            parts.append(f"{_lexeme(index, tok)}:{min(position, MAX_POSITION)}")
            position += 1
        position += INDEX_GAP
    return " ".join(parts)


class TsqueryCompiler(Compiler):
    def phrase(self, index: Index, toks: list[str], prefix: bool) -> str:
        lexemes = [_lexeme(index, t) for t in toks]
        if prefix:
            lexemes[-1] += ":*"
        return "(" + " <-> ".join(lexemes) + ")"

    def combine(self, op: BoolOp, left: str, right: str) -> str:
        return {BoolOp.AND: f"({left} & {right})", BoolOp.OR: f"({left} | {right})", BoolOp.NOT: f"({left} & !{right})"}[op]

    def near(self, index: Index, left: list[str], right: list[str], distance: int, ordered: bool) -> str:
        lp, rp = self.phrase(index, left, False), self.phrase(index, right, False)
        options = [f"({lp} <{k}> {rp})" for k in range(1, distance + 1)]
        if not ordered:
            options += [f"({rp} <{k}> {lp})" for k in range(1, distance + 1)]
        return "(" + " | ".join(options or [f"({lp} <-> {rp})"]) + ")"

    def match_sql(self, expression: str) -> str:
        return f"SELECT record_id AS id FROM search_pg WHERE doc @@ CAST({self.bind(expression)} AS tsquery)"


class PostgresIndex(SearchIndex):
    def create(self, conn: Connection) -> None:
        # CREATE INDEX IF NOT EXISTS locks the table before it looks: skip the DDL when it is there.
        if conn.exec_driver_sql("SELECT to_regclass('ix_search_pg_doc')").scalar() is not None:
            return
        for ddl in DDL:
            conn.exec_driver_sql(ddl)

    def _write_texts(self, conn: Connection, docs: list[tuple[int, dict[Index, str]]]) -> None:
        conn.execute(
            text("INSERT INTO search_pg (record_id, doc) VALUES (:id, CAST(:doc AS tsvector))"),
            [{"id": rid, "doc": tsvector_literal(texts)} for rid, texts in docs],
        )

    def _delete_texts(self, conn: Connection, record_ids: list[int]) -> None:
        conn.execute(DELETE_TEXTS, {"ids": record_ids})

    def _clear_text(self, conn: Connection) -> None:
        conn.exec_driver_sql("DELETE FROM search_pg")

    def _merge_segments(self, conn: Connection) -> None:
        """GIN keeps recent insertions in a pending list that every search scans
        (until autovacuum or the list's size limit moves them): move them now."""
        conn.exec_driver_sql("SELECT gin_clean_pending_list('ix_search_pg_doc'::regclass)")

    @staticmethod
    def placeholder(name: str) -> str:
        return f"%({name})s"

    def _search_sql(self, query):
        compiler = TsqueryCompiler(self.placeholder)
        return compiler.compile(query), compiler.params

    def scan(self, index: Index, start: str, count: int, position: int = 1) -> list[ScanEntry]:
        """Browse via ``ts_stat`` (reads the whole index: fine for occasional scans)."""
        prefix = index.value + ":"
        term = prefix + " ".join(fold(start).split())
        stat = (
            "SELECT substr(word, :plen) AS term, ndoc FROM ts_stat('SELECT doc FROM search_pg')"
            " WHERE word LIKE :like AND word NOT LIKE :sentinel"
        )
        params = {"plen": len(prefix) + 1, "like": prefix + "%", "sentinel": prefix + "ǂ%", "term": term}
        with self.engine.connect() as conn:
            before = conn.execute(
                text(f"SELECT * FROM ({stat}) s WHERE :prefix || s.term < :term ORDER BY s.term DESC LIMIT :n"),
                {**params, "prefix": prefix, "n": max(position - 1, 0)},
            ).all()
            after = conn.execute(
                text(f"SELECT * FROM ({stat}) s WHERE :prefix || s.term >= :term ORDER BY s.term LIMIT :n"),
                {**params, "prefix": prefix, "n": max(count - len(before), 0)},
            ).all()
        return [ScanEntry(t, n) for t, n in [*reversed(before), *after]]
