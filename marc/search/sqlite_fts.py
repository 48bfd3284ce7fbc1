"""SQLite backend: an FTS5 table with one column per index, fed pre-tokenised
text (see ``normalize``), so FTS5's own tokenizer only splits on spaces."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, text

from marc.search.compile import Compiler
from marc.search.index import ScanEntry, SearchIndex
from marc.search.normalize import fold
from marc.search.query import TEXT_INDEXES, BoolOp, Index

COLUMNS = [i.value for i in TEXT_INDEXES]
FTS_DDL = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5({', '.join(COLUMNS)}, "
    "tokenize = 'unicode61 remove_diacritics 0', detail = full)"
)
VOCAB_DDL = "CREATE VIRTUAL TABLE IF NOT EXISTS search_vocab USING fts5vocab(search_fts, col)"
INSERT = f"INSERT INTO search_fts(rowid, {', '.join(COLUMNS)}) VALUES (?, {', '.join('?' for _ in COLUMNS)})"
DELETE_TEXTS = text("DELETE FROM search_fts WHERE rowid IN :ids").bindparams(bindparam("ids", expanding=True))
FTS_OPERATORS = {BoolOp.AND: "AND", BoolOp.OR: "OR", BoolOp.NOT: "NOT"}
# Sentinel tokens start with U+01C2; scan lists words only.
SENTINEL_PREFIX = "ǂ"


class Fts5Compiler(Compiler):
    def phrase(self, index: Index, toks: list[str], prefix: bool) -> str:
        return f'{index.value} : "{" ".join(toks)}"' + (" *" if prefix else "")

    def combine(self, op: BoolOp, left: str, right: str) -> str:
        return f"({left}) {FTS_OPERATORS[op]} ({right})"

    def near(self, index: Index, left: list[str], right: list[str], distance: int, ordered: bool) -> str:
        near = f'NEAR("{" ".join(left)}" "{" ".join(right)}", {distance})'
        if ordered:  # NEAR is unordered: also require the order as a phrase when adjacent
            return f'{index.value} : "{" ".join(left + right)}"' if distance <= 1 else f"{index.value} : {near}"
        return f"{index.value} : {near}"

    def match_sql(self, expression: str) -> str:
        return f"SELECT rowid AS id FROM search_fts WHERE search_fts MATCH {self.bind(expression)}"


class SqliteIndex(SearchIndex):
    def create(self, conn: Connection) -> None:
        conn.exec_driver_sql(FTS_DDL)
        conn.exec_driver_sql(VOCAB_DDL)

    def _write_texts(self, conn: Connection, docs: list[tuple[int, dict[Index, str]]]) -> None:
        rows = [(rid, *[texts.get(index, "") for index in TEXT_INDEXES]) for rid, texts in docs]
        conn.exec_driver_sql(INSERT, rows)  # many rows: SQLAlchemy's per-row work is skipped

    def _delete_texts(self, conn: Connection, record_ids: list[int]) -> None:
        conn.execute(DELETE_TEXTS, {"ids": record_ids})

    def _clear_text(self, conn: Connection) -> None:
        conn.exec_driver_sql("DELETE FROM search_fts")

    def _merge_segments(self, conn: Connection) -> None:
        """FTS5's 'optimize': every segment b-tree merged into one."""
        conn.exec_driver_sql("INSERT INTO search_fts(search_fts) VALUES ('optimize')")

    @staticmethod
    def placeholder(name: str) -> str:
        return f":{name}"

    def _search_sql(self, query):
        compiler = Fts5Compiler(self.placeholder)
        return compiler.compile(query), compiler.params

    def scan(self, index: Index, start: str, count: int, position: int = 1) -> list[ScanEntry]:
        term = " ".join(fold(start).split())
        params = {"col": index.value, "term": term, "sentinel": SENTINEL_PREFIX + "%"}
        base = "SELECT term, doc FROM search_vocab WHERE col = :col AND term NOT LIKE :sentinel"
        with self.engine.connect() as conn:
            before = conn.execute(
                text(f"{base} AND term < :term ORDER BY term DESC LIMIT :n"), {**params, "n": max(position - 1, 0)}
            ).all()
            after = conn.execute(
                text(f"{base} AND term >= :term ORDER BY term LIMIT :n"), {**params, "n": max(count - len(before), 0)}
            ).all()
        return [ScanEntry(t, n) for t, n in [*reversed(before), *after]]
