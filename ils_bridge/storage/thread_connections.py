"""Connections kept by the threads that use them, instead of taken from the pool for every transaction.

Taking a connection from SQLAlchemy's pool and giving it back (a Connection
object, checkout and reset events, and on PostgreSQL a pre-ping round trip)
cost about a third of a gate's item lookup on SQLite.  The threads that carry
the load are few and long-lived (a server's event loop thread and its writer
thread; on PostgreSQL its worker threads), so each keeps the connection it
was given.  Only ``max_held`` threads keep one: any other thread, and a
transaction opened while its thread's connection is already in use, borrows
one from the pool as before.  A connection left by a thread that has ended is
closed when a new thread asks; one that broke is dropped after its
transaction (the caller's retry then takes a fresh one).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine

MAX_HELD = 4


class ThreadConnections:
    def __init__(self, engine: Engine, max_held: int = MAX_HELD):
        self.engine = engine
        self.max_held = max_held
        self._held: dict[int, Connection] = {}  # thread ident -> its connection
        self._busy: set[int] = set()
        self._lock = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        ident = threading.get_ident()
        conn = self._held.get(ident)
        if conn is None or ident in self._busy:
            conn = self._hold(ident) if ident not in self._busy else None
            if conn is None:
                with self.engine.connect() as borrowed:
                    yield borrowed
                return
        self._busy.add(ident)
        try:
            yield conn
        finally:
            self._busy.discard(ident)
            self._reset(ident, conn)

    def _hold(self, ident: int) -> Connection | None:
        with self._lock:
            self._close_ended_threads()
            if len(self._held) >= self.max_held:
                return None
            conn = self._held[ident] = self.engine.connect()
            return conn

    def _reset(self, ident: int, conn: Connection) -> None:
        """After a transaction: forget SQLAlchemy's idea of an open one (the driver committed or rolled back),
        and drop a connection that broke (seen by SQLAlchemy, or by the driver when statements went to it
        directly, as a group's savepoints do)."""
        if conn.invalidated or conn.closed or getattr(conn.connection.dbapi_connection, "closed", False):
            with self._lock:
                self._held.pop(ident, None)
            if not (conn.invalidated or conn.closed):
                conn.invalidate()  # the pool discards it instead of rolling back on a dead connection
            conn.close()
        elif conn.in_transaction():
            conn.rollback()

    def _close_ended_threads(self) -> None:
        alive = {thread.ident for thread in threading.enumerate()}
        for ident in [i for i in self._held if i not in alive]:
            self._held.pop(ident).close()

    def close(self) -> None:
        with self._lock:
            for conn in self._held.values():
                conn.close()
            self._held.clear()
