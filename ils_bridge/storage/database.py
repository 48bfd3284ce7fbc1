"""Engines and transactions for SQLite (the embedded default) and PostgreSQL.

Every service call is one transaction run through ``Database.transaction``:

- SQLite runs in WAL mode; a writing transaction starts with ``BEGIN
  IMMEDIATE`` so two writers queue on the database lock instead of failing
  halfway, and a lock that outlasts the busy timeout is retried here, never
  shown to a terminal as a crash.
- PostgreSQL runs READ COMMITTED with explicit row locks (``SELECT ... FOR
  UPDATE`` on the patron, then the item: one order everywhere, so no
  deadlock); a serialization failure or deadlock is retried all the same.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Callable, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, OperationalError

from ils_bridge.storage import migrate
from ils_bridge.storage.schema import metadata
from ils_bridge.storage.thread_connections import MAX_HELD, ThreadConnections
from ils_bridge.storage.urls import is_memory, normalise_url

T = TypeVar("T")

RETRIES = 12
SQLITE_BUSY_MS = 5000


class DatabaseUnavailable(RuntimeError):
    """The database could not be reached or stayed locked through every retry."""


class Database:
    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False):
        self.url = normalise_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        self.engine: Engine = self._create_engine(pool_size, echo)
        # In memory every thread shares the one connection already (StaticPool).
        self._threads = None if is_memory(self.url) else ThreadConnections(
            self.engine, MAX_HELD if self.is_sqlite else pool_size)
        self._grouped = threading.local()  # .conn: the connection of the group open on this thread

    def _create_engine(self, pool_size: int, echo: bool) -> Engine:
        if not self.is_sqlite:
            return create_engine(self.url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, echo=echo)
        memory = is_memory(self.url)
        kwargs: dict[str, Any] = {"echo": echo, "connect_args": {"check_same_thread": False, "timeout": SQLITE_BUSY_MS / 1000}}
        if memory:
            from sqlalchemy.pool import StaticPool

            kwargs["poolclass"] = StaticPool
        engine = create_engine(self.url, **kwargs)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi_conn.cursor()
            if not memory:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # Connections opened outside ``transaction`` (the search index, migrations) begin here; inside it the
            # transaction was begun on the driver connection already.
            if not conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
                conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write", True) else "BEGIN")

        return engine

    def create_schema(self) -> None:
        """Bring the database to the newest schema: Alembic migrations, or every table at once in memory."""
        if is_memory(self.url):
            migrate.all_metadata()
            metadata.create_all(self.engine)
        else:
            migrate.upgrade(self.url)

    @contextmanager
    def group(self) -> Iterator[None]:
        """Group commit (SQLite files): the transactions this thread runs inside the block share one database
        transaction, each in a savepoint of its own, and are committed together when the block ends.

        Each call stays atomic (its savepoint is rolled back on failure, and the
        others keep their work), but none is durable before the block's COMMIT:
        a caller answers its clients only after the block ends, and if the
        COMMIT fails, every call in it failed.  One COMMIT writes a page that
        several calls changed once, not once per call.  Elsewhere (PostgreSQL,
        memory, a group already open on this thread) each transaction stands alone.
        """
        if not self.is_sqlite or self._threads is None or getattr(self._grouped, "conn", None) is not None:
            yield
            return
        with self._threads.connection() as conn:
            driver = conn.connection.dbapi_connection
            _begin_immediate(driver)
            self._grouped.conn = conn
            try:
                yield
            except BaseException:
                driver.rollback()  # type: ignore[union-attr]
                raise
            finally:
                self._grouped.conn = None
            _require_open(driver)
            try:
                driver.commit()  # type: ignore[union-attr]
            except sqlite3.OperationalError as exc:
                driver.rollback()  # type: ignore[union-attr]
                raise DatabaseUnavailable(f"the group could not be committed: {exc}") from exc

    def transaction(self, work: Callable[[Connection], T], *, write: bool = True) -> T:
        """Run ``work`` in one transaction, retrying on lock contention; roll back on any exception."""
        grouped = getattr(self._grouped, "conn", None)
        if grouped is not None:
            return _savepoint(grouped, work)
        for attempt in range(RETRIES):
            try:
                with self._connection() as conn:
                    if self.is_sqlite:
                        return _sqlite_transaction(conn, work, write)
                    with conn.begin():
                        return work(conn)
            except (OperationalError, DBAPIError, sqlite3.OperationalError) as exc:
                if not _is_retryable(exc) or attempt == RETRIES - 1:
                    if _is_retryable(exc) or _is_disconnect(exc):
                        raise DatabaseUnavailable(f"database busy or unreachable: {_cause(exc)}") from exc
                    raise
                time.sleep(min(0.5, 0.005 * 2**attempt) * (0.5 + random.random()))
        raise AssertionError("unreachable")

    def _connection(self) -> AbstractContextManager[Connection]:
        return self.engine.connect() if self._threads is None else self._threads.connection()

    def read(self, work: Callable[[Connection], T]) -> T:
        return self.transaction(work, write=False)

    def dispose(self) -> None:
        if self._threads is not None:
            self._threads.close()
        self.engine.dispose()


def _sqlite_transaction(conn: Connection, work: Callable[[Connection], T], write: bool) -> T:
    """One SQLite transaction driven on the driver connection: BEGIN IMMEDIATE (or BEGIN to read), COMMIT.

    Going through SQLAlchemy's begin/commit machinery cost several times what
    SQLite spends on a circulation call's statements.  Statements run through
    the Connection join this transaction (its own begin is a no-op for
    pysqlite, and the begin listener sees the transaction open).
    """
    driver = conn.connection.dbapi_connection
    driver.execute("BEGIN IMMEDIATE" if write else "BEGIN")  # type: ignore[union-attr]
    try:
        result = work(conn)
    except BaseException:
        driver.rollback()  # type: ignore[union-attr]
        raise
    driver.commit()  # type: ignore[union-attr]
    return result


def _savepoint(conn: Connection, work: Callable[[Connection], T]) -> T:
    """One call inside a group: its own savepoint, rolled back alone if the call fails."""
    driver = conn.connection.dbapi_connection
    _require_open(driver)
    driver.execute("SAVEPOINT grouped_call")  # type: ignore[union-attr]
    try:
        result = work(conn)
    except BaseException:
        _require_open(driver)
        driver.execute("ROLLBACK TO grouped_call")  # type: ignore[union-attr]
        driver.execute("RELEASE grouped_call")  # type: ignore[union-attr]
        raise
    _require_open(driver)
    driver.execute("RELEASE grouped_call")  # type: ignore[union-attr]
    return result


def _begin_immediate(driver: Any) -> None:
    """Take SQLite's write lock for a group, waiting and retrying as ``transaction`` does."""
    for attempt in range(RETRIES):
        try:
            driver.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if not _is_retryable(exc) or attempt == RETRIES - 1:
                raise DatabaseUnavailable(f"database busy or unreachable: {exc}") from exc
            time.sleep(min(0.5, 0.005 * 2**attempt) * (0.5 + random.random()))


def _require_open(driver: Any) -> None:
    """SQLite rolls a whole transaction back on some errors (disk full, I/O): then the group's earlier calls are
    lost, and neither a later call nor the group's COMMIT may pretend otherwise."""
    if not driver.in_transaction:
        raise DatabaseUnavailable("the database rolled the group's transaction back; nothing in it was saved")


def _cause(exc: Exception) -> Exception:
    return getattr(exc, "orig", None) or exc


def _is_retryable(exc: Exception) -> bool:
    text = str(_cause(exc)).lower()
    sqlstate = getattr(_cause(exc), "sqlstate", None)
    return (
        "database is locked" in text
        or "database table is locked" in text
        or sqlstate in ("40001", "40P01")  # serialization_failure, deadlock_detected
        or sqlstate in ("57P01", "57P02", "57P03")  # admin/crash shutdown, cannot connect now (failover, restart)
        or (sqlstate or "").startswith("08")  # connection exceptions
        or _is_disconnect(exc)
    )


def _is_disconnect(exc: Exception) -> bool:
    return bool(getattr(exc, "connection_invalidated", False)) or "server closed the connection" in str(exc).lower() \
        or "connection refused" in str(exc).lower() or "terminating connection" in str(exc).lower()
