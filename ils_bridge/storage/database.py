"""Engines and transactions for SQLite (the embedded default) and PostgreSQL.

Every service call is one transaction run through ``Database.transaction``:

- SQLite runs in WAL mode; a writing transaction starts with ``BEGIN
  IMMEDIATE`` so two writers queue on the database lock instead of failing
  halfway, and a lock that outlasts the busy timeout is retried here, never
  shown to a terminal as a crash.
- PostgreSQL runs READ COMMITTED with explicit row locks (``SELECT ... FOR
  UPDATE`` on the patron, then the item: one order everywhere, so no
  deadlock); a serialization failure or deadlock is retried all the same.

``Database.group`` (group commit) runs several callers' calls in one
database transaction, each in a savepoint; see there.
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Callable, TypeVar

from psycopg.pq import TransactionStatus
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, OperationalError

from ils_bridge.storage import migrate
from ils_bridge.storage.checkpoints import Checkpointer
from ils_bridge.storage.schema import metadata
from ils_bridge.storage.thread_connections import MAX_HELD, ThreadConnections
from ils_bridge.storage.urls import is_memory, normalise_url

T = TypeVar("T")

RETRIES = 12
SQLITE_BUSY_MS = 5000


class DatabaseUnavailable(RuntimeError):
    """The database could not be reached or stayed locked through every retry."""


class RetryAlone(RuntimeError):
    """A call in a group lost a lock conflict (deadlock, serialization failure) with another process.

    Everything the call did was rolled back to its savepoint; the group goes
    on without it.  Run the call again on its own after the group ended (its
    locks are gone then): it has not happened, so it cannot happen twice.
    """


class Group:
    """The calls one thread runs in one database transaction (``Database.group``): ``run`` each call through it."""

    def __init__(self, conn: Connection, is_sqlite: bool) -> None:
        self.conn = conn
        self.driver: Any = conn.connection.dbapi_connection
        self.is_sqlite = is_sqlite
        self.started = is_sqlite  # SQLite's group begins at once; PostgreSQL's with its first statement
        self.call: _Call | None = None  # the call running now (PostgreSQL)

    def run(self, call: Callable[[], T]) -> T:
        """Run one caller's call in the group.  On SQLite each transaction it makes is a savepoint of its own.
        On PostgreSQL the whole call is one savepoint too, so that a lock conflict undoes all of it and
        raises ``RetryAlone``."""
        if self.is_sqlite:
            return call()
        self.call = _Call()
        try:
            return call()
        finally:
            current, self.call = self.call, None
            if current.open:
                self.require_open()
                self.execute("RELEASE grouped_call")

    def execute(self, sql: str) -> None:
        """A savepoint command on the group's connection; a PostgreSQL connection that broke is the database
        being unavailable, as for any statement."""
        try:
            self.driver.execute(sql)
        except Exception as exc:
            if self.is_sqlite or not (_is_disconnect(exc) or self.driver.closed):
                raise
            raise DatabaseUnavailable(f"database unreachable: {exc}") from exc

    def require_open(self, *, failed_ok: bool = False) -> None:
        """SQLite rolls a whole transaction back on some errors (disk full, I/O); on PostgreSQL a connection may
        break.  Then the group's earlier calls are lost, and neither a later call nor the group's COMMIT may
        pretend otherwise.  ``failed_ok``: a PostgreSQL transaction failed by a statement's error is still
        there (to be rolled back to a savepoint)."""
        if self.is_sqlite:
            ok = self.driver.in_transaction
        else:
            status = self.driver.info.transaction_status
            ok = status == TransactionStatus.INTRANS or (status == TransactionStatus.IDLE and not self.started) \
                or (failed_ok and status == TransactionStatus.INERROR)
        if not ok:
            raise DatabaseUnavailable("the database rolled the group's transaction back; nothing in it was saved")


class _Call:
    """A call in a PostgreSQL group: whether its savepoint is open, and whether a transaction of it was kept."""

    def __init__(self) -> None:
        self.open = False
        self.kept = False
        self.running = False  # a transaction of the call is under way (one begun inside it is nested)
        self.conflicted = False


class Database:
    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False):
        self.url = normalise_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        self.engine: Engine = self._create_engine(pool_size, echo)
        # In memory every thread shares the one connection already (StaticPool).
        self._threads = None if is_memory(self.url) else ThreadConnections(
            self.engine, MAX_HELD if self.is_sqlite else pool_size)
        self._grouped = threading.local()  # .group: the Group open on this thread
        # A SQLite file's WAL is checkpointed on a thread of its own, never inside a call's COMMIT.
        self._checkpointer = Checkpointer(self.engine.url.database) if self.is_sqlite and not is_memory(self.url) \
            else None

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
                cursor.execute("PRAGMA wal_autocheckpoint=0")  # the Checkpointer's thread does it (checkpoints.py)
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
    def group(self) -> Iterator[Group | None]:
        """Group commit: the transactions this thread runs inside the block share one database transaction, each
        in a savepoint of its own, and are committed together when the block ends.

        Each call stays atomic (its savepoint is rolled back on failure, and the
        others keep their work), but none is durable before the block's COMMIT:
        a caller answers its clients only after the block ends, and if the
        COMMIT fails, every call in it failed.  One COMMIT writes a page that
        several calls changed once, not once per call.

        Yields the ``Group`` (run each caller's call through ``Group.run``), or
        None where each transaction stands alone: in memory, or with a group
        already open on this thread.

        On PostgreSQL the row locks a call takes are held until the group
        commits, so groups in two processes (or two threads) can deadlock where
        single calls would have waited: the call that loses is rolled back to
        its savepoint and raises ``RetryAlone`` (see ``SerialWriter``).
        """
        if self._threads is None or getattr(self._grouped, "group", None) is not None:
            yield None
            return
        with self._threads.connection() as conn:
            group = Group(conn, self.is_sqlite)
            if self.is_sqlite:
                _begin_immediate(group.driver)
            self._grouped.group = group
            try:
                yield group
            except BaseException:
                _rollback(group.driver)
                raise
            finally:
                self._grouped.group = None
            self._commit(group)

    def _commit(self, group: Group) -> None:
        if not group.started:
            return  # nothing ran: no transaction to commit
        try:
            group.require_open()
            group.driver.commit()
        except (DatabaseUnavailable, sqlite3.OperationalError, DBAPIError) as exc:
            _rollback(group.driver)
            raise DatabaseUnavailable(f"the group could not be committed: {_cause(exc)}") from exc
        except Exception as exc:  # the driver's own errors (a dropped connection)
            if not _is_retryable(exc):
                raise
            _rollback(group.driver)
            raise DatabaseUnavailable(f"the group could not be committed: {exc}") from exc

    def transaction(self, work: Callable[[Connection], T], *, write: bool = True) -> T:
        """Run ``work`` in one transaction, retrying on lock contention; roll back on any exception."""
        group = getattr(self._grouped, "group", None)
        if group is not None:
            return _in_group(group, work)
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

    def read_statement(self, work: Callable[[Connection], T]) -> T:
        """A read that is one SELECT: on SQLite it runs without BEGIN and COMMIT around it, since a statement
        sees one committed state by itself (the RFID gate's read, half its cost).  Elsewhere as ``read``."""
        if not self.is_sqlite or getattr(self._grouped, "group", None) is not None:
            return self.read(work)
        with self._connection() as conn:
            return work(conn)

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.close()
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


def _in_group(group: Group, work: Callable[[Connection], T]) -> T:
    """One transaction inside a group.  On SQLite, and on PostgreSQL after an earlier transaction of the same
    call was kept or inside one still running: a savepoint of its own.  Otherwise on PostgreSQL: the call's
    savepoint, opened here."""
    call = group.call
    if call is None:
        return _savepoint(group, work, "grouped_call")
    if call.conflicted:
        raise RetryAlone("an earlier transaction of this call lost a lock conflict")
    if call.kept or call.running:
        return _savepoint(group, work, "grouped_transaction", call)
    if not call.open:
        _open_savepoint(group, "grouped_call")
        call.open = True
    call.running = True
    try:
        result = work(group.conn)
    except BaseException as exc:
        call.running = False
        _undo(group, "grouped_call", release=False)  # the savepoint stays: the call may try again (a refusal's record)
        if _is_conflict(exc):
            call.conflicted = True
            raise RetryAlone(f"lost a lock conflict: {_cause(exc)}") from exc
        raise
    call.running = False
    call.kept = True
    return result


def _savepoint(group: Group, work: Callable[[Connection], T], name: str, call: _Call | None = None) -> T:
    """One transaction inside a group in a savepoint of its own, rolled back alone if it fails."""
    _open_savepoint(group, name)
    try:
        result = work(group.conn)
    except BaseException as exc:
        _undo(group, name, release=True)
        if call is not None and _is_conflict(exc):  # a PostgreSQL call: all of it goes, not only this transaction
            _undo(group, "grouped_call", release=False)
            call.conflicted = True
            raise RetryAlone(f"lost a lock conflict: {_cause(exc)}") from exc
        raise
    group.require_open()
    group.execute(f"RELEASE {name}")
    return result


def _open_savepoint(group: Group, name: str) -> None:
    """Open a savepoint.  A PostgreSQL connection found broken by the group's first statement (the server
    restarted while it sat idle) has done nothing yet: the call runs again on its own, on a fresh connection."""
    try:
        group.require_open()
        group.execute(f"SAVEPOINT {name}")
    except DatabaseUnavailable as exc:
        if group.started:
            raise
        raise RetryAlone(f"the group's connection was lost before it began: {exc}") from exc
    group.started = True


def _undo(group: Group, name: str, *, release: bool) -> None:
    group.require_open(failed_ok=True)
    group.execute(f"ROLLBACK TO {name}")
    if release:
        group.execute(f"RELEASE {name}")


def _rollback(driver: Any) -> None:
    """Roll back what is open; a connection that broke has nothing left to roll back."""
    with contextlib.suppress(Exception):  # the connection is gone, and its transaction with it
        driver.rollback()


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


def _cause(exc: Exception) -> Exception:
    return getattr(exc, "orig", None) or exc


def _is_conflict(exc: BaseException) -> bool:
    """A lock conflict with another transaction (PostgreSQL): the loser may simply run again."""
    return getattr(_cause(exc), "sqlstate", None) in ("40001", "40P01")  # serialization_failure, deadlock_detected


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
