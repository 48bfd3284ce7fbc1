"""Group commit and per-thread connections: each call stays atomic, none is saved before the group's commit.

The group tests run on SQLite and PostgreSQL; on PostgreSQL two groups
holding row locks can deadlock, and the call that lost must be rolled back
alone and run again on its own, exactly once.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import select, update

from ils_bridge.app import App
from ils_bridge.storage import schema as s
from ils_bridge.storage.database import Database, DatabaseUnavailable
from ils_bridge.storage.thread_connections import MAX_HELD
from tests.conftest import example_policy


def _library_database(url: str) -> Iterator[Database]:
    app = App.open(url)
    app.create_library(example_policy("xuzhou"), author="tests")
    yield app.db
    app.close()


@pytest.fixture
def db(sqlite_url: str) -> Iterator[Database]:
    yield from _library_database(sqlite_url)


@pytest.fixture
def any_db(db_url: str) -> Iterator[Database]:
    """A library's database on each engine."""
    yield from _library_database(db_url)


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


def test_calls_in_a_group_are_saved_together_at_its_end(any_db: Database):
    db = any_db
    before = _name(db)
    with db.group():
        db.transaction(_rename("first"))
        db.transaction(_rename("second"))
        assert _name(db) == "second"  # the group's own calls see each other's work
        assert _name_seen_elsewhere(db) == before  # nobody else does, yet
    assert _name_seen_elsewhere(db) == "second"


def test_a_failing_call_is_undone_alone(any_db: Database):
    db = any_db
    def fails(conn):
        _rename("half done")(conn)
        raise RuntimeError("refused halfway")

    with db.group():
        db.transaction(_rename("kept"))
        with pytest.raises(RuntimeError):
            db.transaction(fails)
    assert _name(db) == "kept"


def test_a_failing_group_saves_none_of_its_calls(any_db: Database):
    db = any_db
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


def test_in_memory_a_group_changes_nothing():
    """SQLite in memory has one connection for every thread: each call commits on its own, group or not."""
    app = App.open("sqlite://", create=True)
    app.create_library(example_policy("xuzhou"), author="tests")
    try:
        with app.db.group() as group:
            assert group is None
            app.db.transaction(_rename("alone"))
            assert _name_seen_elsewhere(app.db) == "alone"
    finally:
        app.close()


def test_a_call_run_through_the_group_is_undone_whole(any_db: Database):
    """Group.run: a call of two transactions that fails in the second keeps the first only if it was kept."""
    def two_transactions() -> None:
        any_db.transaction(_rename("first of the call"))
        any_db.transaction(lambda conn: (_rename("second")(conn), 1 / 0))

    with any_db.group() as group:
        group.run(lambda: any_db.transaction(_rename("before")))
        with pytest.raises(ZeroDivisionError):
            group.run(two_transactions)
    assert _name(any_db) == "first of the call"  # the first transaction was kept, as without a group


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


def _items(db: Database) -> list[int]:
    return db.read(lambda conn: list(conn.execute(select(s.items.c.id).order_by(s.items.c.id)).scalars()))


def _bump(item_id: int, attempts: list[int]):
    """One increment of the item's price (applied twice, the price shows it); ``attempts`` counts the tries."""
    def work(conn) -> None:
        attempts.append(item_id)
        conn.execute(update(s.items).where(s.items.c.id == item_id).values(price_minor=s.items.c.price_minor + 1))

    return work


def test_groups_in_two_processes_that_deadlock_lose_nothing_and_apply_nothing_twice(db_url: str):
    """Two servers' writers (two Database objects: two connections, as two processes have) each run a group that
    locks one item and then the other's: PostgreSQL breaks the deadlock by failing one call, which must be rolled
    back alone, run again on its own after its group, and counted once."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: its groups cannot deadlock")
    import asyncio

    from sip2_server.writer import SerialWriter
    from tests.core.helpers import title_with_copies

    setup = App.open(db_url)
    lib = setup.create_library(example_policy("xuzhou"), author="tests")
    title_with_copies(lib, "Contended", "zh_book", copies=2, classification="D61")
    first, second = _items(setup.db)
    setup.db.transaction(lambda conn: conn.execute(update(s.items).values(price_minor=0)))
    apps = [App.open(db_url), App.open(db_url)]
    holding, queued, attempts = threading.Barrier(2), threading.Event(), []

    def lock_then_wait(db: Database, item_id: int):
        def work() -> None:
            db.transaction(_bump(item_id, attempts))
            holding.wait(10)  # both groups now hold one item each

        return work

    async def race() -> list[object]:
        writers = [SerialWriter(group=app.db.group) for app in apps]
        try:
            held = [asyncio.ensure_future(writer.run(lambda: queued.wait(10))) for writer in writers]
            await asyncio.sleep(0.2)  # each writer waits in its first call while the next two queue behind it
            pairs = [(writers[0], [lock_then_wait(apps[0].db, first), lambda: apps[0].db.transaction(_bump(second, attempts))]),
                     (writers[1], [lock_then_wait(apps[1].db, second), lambda: apps[1].db.transaction(_bump(first, attempts))])]
            tasks = [asyncio.ensure_future(writer.run(call)) for writer, calls in pairs for call in calls]
            await asyncio.sleep(0.2)
            queued.set()
            await asyncio.gather(*held)
            return await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            for writer in writers:
                writer.close()

    try:
        results = asyncio.run(race())
    finally:
        for app in apps:
            app.close()
    assert not [r for r in results if isinstance(r, BaseException)], results
    prices = setup.db.read(lambda conn: dict(conn.execute(select(s.items.c.id, s.items.c.price_minor)).all()))
    setup.close()
    assert len(attempts) == 5  # the deadlock happened: one increment was tried twice ...
    assert prices == {first: 2, second: 2}  # ... and each of the four counted once: none lost, none doubled


def test_a_failing_transaction_inside_another_is_undone_alone(any_db: Database):
    """A transaction begun inside another's work (a nested read or write) is a savepoint inside it: its failure
    leaves the outer transaction's work in place."""
    def outer(conn) -> None:
        _rename("outer")(conn)
        with pytest.raises(ZeroDivisionError):
            any_db.transaction(lambda inner: (_rename("inner")(inner), 1 / 0))

    with any_db.group() as group:
        group.run(lambda: any_db.transaction(outer))
    assert _name(any_db) == "outer"
