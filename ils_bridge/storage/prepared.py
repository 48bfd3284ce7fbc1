"""Core statements compiled once per dialect and run straight on the DB-API connection.

Circulation's hot path (a checkout, a checkin, a gate's item lookup) runs a
dozen small statements per call.  Through ``Connection.execute`` each one
pays SQLAlchemy's per-execution machinery (cache lookup, parameter
construction, events, result set-up), several times what SQLite itself
spends on an indexed lookup.  A ``Prepared`` statement is still written in
SQLAlchemy Core against the declared tables, so the SQL is checked against
the schema and rendered by each dialect; but it is compiled once, and each
call only binds its parameters (with the column types' own converters,
e.g. aware datetimes to UTC), executes on the transaction's own DB-API
connection (so it is part of the same transaction) and converts the row.

Constants written in the statement (``status == "active"``, ``limit(1)``)
are rendered into the SQL text rather than bound: SQLite can then use a
partial index (``WHERE status = 'active'``) and need not re-plan the
statement for each bound value, which made such lookups three times slower.

Only plain statements qualify: an ``IN`` list must be constant (a list
given per call would render per call), and an INSERT names the columns it
sets at compile time.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any, Callable, Mapping, Sequence

from sqlalchemy import Connection, Executable, literal_column
from sqlalchemy.exc import DBAPIError
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import visitors
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter, ColumnElement

Processor = Callable[[Any], Any]


class PreparedRow:
    """Attribute access like SQLAlchemy's Row, plus ``_mapping``; made per statement by ``record_class``."""

    __slots__ = ()

    @property
    def _mapping(self) -> dict[str, Any]:
        return self._asdict()  # type: ignore[attr-defined]


def record_class(names: list[str]) -> type:
    """A row type with these column names (for splitting a joined row into its tables' rows, too)."""
    return type("Row", (PreparedRow, namedtuple("RowBase", names)), {"__slots__": ()})


def _constant_sql(element: Any, **_: Any) -> ColumnElement | None:
    """A bound constant (a string or integer, or a list of them for IN) given in the statement itself as SQL text."""
    if not isinstance(element, BindParameter) or element.required:
        return None
    if element.expanding:
        values = [_literal(v) for v in element.value or ()]
        return literal_column("(" + ", ".join(values) + ")") if values and None not in values else None  # type: ignore[arg-type]
    literal = _literal(element.value)
    return None if literal is None else literal_column(literal)


def _literal(value: Any) -> str | None:
    if type(value) is int:
        return str(value)
    if type(value) is str and "%" not in value:  # '%' would read as a placeholder under pyformat drivers
        return "'" + value.replace("'", "''") + "'"
    return None


class _Compiled:
    """One statement rendered for one dialect, with its converters looked up once."""

    def __init__(self, statement: Executable, dialect: Dialect):
        compiled = visitors.replacement_traverse(statement, {}, _constant_sql).compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise ValueError("a prepared statement cannot have expanding or literal-execute parameters")
        self.sql = compiled.string
        self.order = compiled.positiontup  # None for named paramstyles (psycopg)
        self.defaults = {name: bind.value for bind, name in compiled.bind_names.items()
                         if bind.value is not None and not bind.required}
        self.binders = dict(compiled._bind_processors)
        self._positional: list[tuple[str, Processor | None]] | None = (
            None if self.order is None else [(name, self.binders.get(name)) for name in self.order])
        columns = compiled._result_columns
        self.row = record_class([c.keyname for c in columns]) if columns else None
        readers = [c.type._cached_result_processor(dialect, None) for c in columns]
        # Most columns come back from the driver as they are; only these few need converting.
        self._readers: list[tuple[int, Processor]] = [(i, r) for i, r in enumerate(readers) if r is not None]
        self.returns_id = bool(compiled.effective_returning)
        self.is_insert = compiled.isinsert

    def parameters(self, given: Mapping[str, Any]) -> Any:
        values = {**self.defaults, **given} if self.defaults else given
        if self._positional is not None:
            return [values[name] if binder is None else binder(values[name]) for name, binder in self._positional]
        named = dict(values)
        for name, binder in self.binders.items():
            if name in named:
                named[name] = binder(named[name])
        return named

    def convert(self, raw: tuple) -> Any:
        if not self._readers:
            return self.row(*raw)  # type: ignore[misc]
        values = list(raw)
        for i, reader in self._readers:
            values[i] = reader(values[i])
        return self.row(*values)  # type: ignore[misc]


class Prepared:
    """A statement to run many times: ``first``, ``all``, ``scalar`` or ``run`` it on a Connection."""

    def __init__(self, statement: Executable):
        self.statement = statement
        self._by_dialect: dict[str, _Compiled] = {}

    def _compiled(self, conn: Connection) -> _Compiled:
        name = conn.dialect.name
        compiled = self._by_dialect.get(name)
        if compiled is None:
            compiled = self._by_dialect[name] = _Compiled(self.statement, conn.dialect)
        return compiled

    def _cursor(self, conn: Connection, params: Mapping[str, Any]) -> tuple[_Compiled, Any]:
        compiled = self._compiled(conn)
        parameters = compiled.parameters(params)
        dbapi_connection = conn.connection.dbapi_connection
        try:
            return compiled, dbapi_connection.execute(compiled.sql, parameters)  # type: ignore[union-attr]
        except conn.dialect.loaded_dbapi.Error as exc:
            raise _wrapped(conn, exc, compiled.sql, parameters) from exc

    def first(self, conn: Connection, params: Mapping[str, Any] = {}) -> Any:
        compiled, cursor = self._cursor(conn, params)
        raw = cursor.fetchone()
        cursor.close()
        return None if raw is None else compiled.convert(raw)

    def all(self, conn: Connection, params: Mapping[str, Any] = {}) -> list[Any]:
        compiled, cursor = self._cursor(conn, params)
        rows = [compiled.convert(raw) for raw in cursor.fetchall()]
        cursor.close()
        return rows

    def scalar(self, conn: Connection, params: Mapping[str, Any] = {}) -> Any:
        row = self.first(conn, params)
        return None if row is None else row[0]

    def run_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Execute a write once for each row, in one ``executemany`` of the driver (a bulk INSERT)."""
        compiled = self._compiled(conn)
        parameters = [compiled.parameters(row) for row in rows]
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(compiled.sql, parameters)
        except conn.dialect.loaded_dbapi.Error as exc:
            raise _wrapped(conn, exc, compiled.sql, parameters) from exc
        finally:
            cursor.close()

    def run(self, conn: Connection, params: Mapping[str, Any] = {}) -> int:
        """Execute a write; return the new row's id for an INSERT, else the number of rows changed."""
        compiled, cursor = self._cursor(conn, params)
        if compiled.returns_id:
            result = cursor.fetchone()[0]
        elif compiled.is_insert:
            result = cursor.lastrowid
        else:
            result = cursor.rowcount
        cursor.close()
        return result


def _wrapped(conn: Connection, exc: Exception, sql: str, parameters: Any) -> DBAPIError:
    """The driver's error as SQLAlchemy's (IntegrityError, OperationalError, ...), as Connection.execute raises it,
    so callers' retry and duplicate handling see one kind of exception whichever way a statement ran."""
    dbapi_connection = conn.connection.dbapi_connection
    disconnected = conn.dialect.is_disconnect(exc, dbapi_connection, None)
    if disconnected:
        conn.invalidate(exc)
    return DBAPIError.instance(sql, parameters, exc, conn.dialect.loaded_dbapi.Error,
                               connection_invalidated=disconnected, dialect=conn.dialect)
