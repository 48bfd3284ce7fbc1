"""Group commit and per-thread connections on SQLite: each call stays atomic, none is saved before the group's commit."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from sqlalchemy import select, update

from ils_bridge.app import App
from ils_bridge.storage import schema as s
from ils_bridge.storage.database import Database, DatabaseUnavailable
from ils_bridge.storage.thread_connections import MAX_HELD
from tests.conftest import example_policy


@pytest.fixture
def db(sqlite_url: str) -> Database:
    app = App.open(sqlite_url)
    app.create_library(example_policy("xuzhou"), author="tests")
    yield app.db
    app.close()


def _rename(name: str):
    return lambda conn: conn.execute(update(s.libraries).values(name=name))


def _name(db: Database) -> str:
    return db.read(lambda conn: conn.execute(select(s.libraries.c.name)).scalar_one())


def _name_seen_elsewhere(db: Database) -> str:
    """What another connection (another thread, another process) reads meanwhile."""
    seen: list[str] = []
    thread = threading.Thread(target=lambda: seen.append(_name(db)))
    thread.start()
    thread.join()
    return seen[0]


def test_calls_in_a_group_are_saved_together_at_its_end(db: Database):
    before = _name(db)
    with db.group():
        db.transaction(_rename("first"))
        db.transaction(_rename("second"))
        assert _name(db) == "second"  # the group's own calls see each other's work
        assert _name_seen_elsewhere(db) == before  # nobody else does, yet
    assert _name_seen_elsewhere(db) == "second"


def test_a_failing_call_is_undone_alone(db: Database):
    def fails(conn):
        _rename("half done")(conn)
        raise RuntimeError("refused halfway")

    with db.group():
        db.transaction(_rename("kept"))
        with pytest.raises(RuntimeError):
            db.transaction(fails)
    assert _name(db) == "kept"


def test_a_failing_group_saves_none_of_its_calls(db: Database):
    before = _name(db)
    with pytest.raises(RuntimeError):
        with db.group():
            db.transaction(_rename("lost with the group"))
            raise RuntimeError("the commit never comes")
    assert _name(db) == before


def test_a_group_the_database_rolled_back_is_not_committed(db: Database):
    """SQLite ends a transaction on some errors; the group must then fail rather than commit what follows."""
    with pytest.raises(DatabaseUnavailable):
        with db.group():
            db.transaction(_rename("lost"))
            db.transaction(lambda conn: conn.connection.dbapi_connection.rollback())  # as SQLite does on disk full
    assert _name(db) != "lost"


def test_a_thread_keeps_its_connection_and_a_nested_read_borrows_another(db: Database):
    first = db.read(lambda conn: conn.connection.dbapi_connection)
    assert db.read(lambda conn: conn.connection.dbapi_connection) is first
    nested = db.transaction(lambda conn: db.read(lambda inner: inner.connection.dbapi_connection))
    assert nested is not first


def test_only_a_few_threads_keep_connections_and_ended_threads_make_room(db: Database):
    def read_in_threads(count: int) -> None:
        threads = [threading.Thread(target=lambda: _name(db)) for _ in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    read_in_threads(MAX_HELD + 3)
    assert len(db._threads._held) <= MAX_HELD
    kept: list[bool] = []

    def new_thread() -> None:  # the ended threads' places are free again: it keeps its connection too
        _name(db)
        kept.append(threading.get_ident() in db._threads._held)

    for _ in range(MAX_HELD + 1):
        thread = threading.Thread(target=new_thread)
        thread.start()
        thread.join()
    assert all(kept) and len(db._threads._held) <= MAX_HELD


def test_without_a_file_database_a_group_changes_nothing(db_url: str):
    """PostgreSQL (and SQLite in memory) commit each call on its own, group or not."""
    on_postgresql = db_url.startswith("postgresql")
    app = App.open(db_url if on_postgresql else "sqlite://", create=not on_postgresql)
    app.create_library(example_policy("xuzhou"), author="tests")
    try:
        with app.db.group():
            app.db.transaction(_rename("alone"))
            assert _name_seen_elsewhere(app.db) == "alone"
    finally:
        app.close()


def test_a_group_that_cannot_take_the_lock_fails_cleanly(db: Database, sqlite_url: str, monkeypatch: pytest.MonkeyPatch):
    from ils_bridge.storage import database

    monkeypatch.setattr(database, "RETRIES", 2)
    holder = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None, timeout=0.05)
    db.read(lambda conn: conn.exec_driver_sql("PRAGMA busy_timeout=50"))
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(DatabaseUnavailable):
            with db.group():
                db.transaction(_rename("never"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert _name(db) != "never"
