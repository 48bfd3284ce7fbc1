"""Prepared statements: the same rows, types, errors and transactions as Connection.execute, on both engines."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from ils_bridge.app import App
from ils_bridge.storage import schema as s
from ils_bridge.storage.prepared import Prepared
from tests.conftest import example_policy

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
_POLICY_BY_LIBRARY = Prepared(select(s.policy_versions).where(s.policy_versions.c.library_id == bindparam("library")))
_ACTIVE_VERSIONS = Prepared(select(s.policy_versions.c.version).where(
    s.policy_versions.c.library_id == bindparam("library"), s.policy_versions.c.active.is_(True),
    s.policy_versions.c.author.in_(("tests", "someone else"))))
_INSERT_TRANSACTION = Prepared(insert(s.transactions).values(
    {name: bindparam(name) for name in ("library_id", "at", "op", "ok", "policy_version", "detail")}))
_RENAME = Prepared(update(s.libraries).where(s.libraries.c.id == bindparam("id")).values(name=bindparam("name")))
_DUPLICATE_VERSION = Prepared(insert(s.policy_versions).values(
    {name: bindparam(name) for name in ("library_id", "version", "document", "sha256", "author", "message", "applied_at",
                                        "active")}))


@pytest.fixture
def library_id(app: App) -> int:
    return app.create_library(example_policy("xuzhou"), author="tests").record.id


def test_rows_come_back_typed_like_sqlalchemy_rows(app: App, library_id: int):
    def both(conn):
        mine = _POLICY_BY_LIBRARY.first(conn, {"library": library_id})
        theirs = conn.execute(_POLICY_BY_LIBRARY.statement, {"library": library_id}).first()
        return mine, theirs

    mine, theirs = app.db.read(both)
    assert tuple(mine) == tuple(theirs)
    assert mine._mapping == dict(theirs._mapping)
    assert mine.applied_at.tzinfo is not None and mine.active is True


def test_constants_in_the_statement_are_written_into_the_sql(app: App, library_id: int):
    sql = app.db.read(lambda conn: _ACTIVE_VERSIONS._compiled(conn).sql)
    assert "'tests'" in sql and "'someone else'" in sql
    assert app.db.read(lambda conn: _ACTIVE_VERSIONS.all(conn, {"library": library_id})) == [(1,)]


def test_writes_bind_aware_times_and_documents_and_return_the_new_id(app: App, library_id: int):
    at = dt.datetime(2026, 3, 2, 9, 30, tzinfo=SHANGHAI)

    def write(conn):
        new_id = _INSERT_TRANSACTION.run(conn, {"library_id": library_id, "at": at, "op": "probe", "ok": True,
                                                 "policy_version": 1, "detail": {"why": "test"}})
        return new_id, conn.execute(select(s.transactions).where(s.transactions.c.id == new_id)).one()

    new_id, row = app.db.transaction(write)
    assert row.id == new_id
    assert row.at == at and row.at.utcoffset() == dt.timedelta(0)
    assert row.detail == {"why": "test"} and row.ok is True


def test_naive_times_are_refused(app: App, library_id: int):
    with pytest.raises(Exception, match="timezone-aware"):
        app.db.transaction(lambda conn: _INSERT_TRANSACTION.run(conn, {
            "library_id": library_id, "at": dt.datetime(2026, 3, 2), "op": "probe", "ok": True, "policy_version": 1,
            "detail": None}))


def test_a_duplicate_raises_sqlalchemys_integrity_error(app: App, library_id: int):
    row = {"library_id": library_id, "version": 1, "document": "x", "sha256": "x", "author": "tests", "message": "dup",
           "applied_at": dt.datetime(2026, 3, 2, tzinfo=SHANGHAI), "active": False}
    with pytest.raises(IntegrityError):
        app.db.transaction(lambda conn: _DUPLICATE_VERSION.run(conn, row))


def test_a_failure_rolls_back_prepared_and_core_writes_together(app: App, library_id: int):
    def half_done(conn):
        assert _RENAME.run(conn, {"id": library_id, "name": "renamed"}) == 1
        conn.execute(update(s.libraries).where(s.libraries.c.id == library_id).values(language="vi"))
        raise RuntimeError("halfway")

    with pytest.raises(RuntimeError):
        app.db.transaction(half_done)
    name, language = app.db.read(lambda conn: conn.execute(
        select(s.libraries.c.name, s.libraries.c.language).where(s.libraries.c.id == library_id)).one())
    assert name != "renamed" and language != "vi"


def test_a_list_given_per_call_is_refused_with_a_clear_error(app: App):
    per_call = Prepared(select(s.libraries).where(s.libraries.c.code.in_(bindparam("codes", expanding=True))))
    with pytest.raises(ValueError, match="expanding"):
        app.db.read(lambda conn: per_call.all(conn, {"codes": ["XZ"]}))


def test_a_one_statement_read_sees_other_connections_commits_and_holds_nothing_open(db_url: str, library_id: int,
                                                                                     app: App):
    def name(conn):
        return conn.execute(select(s.libraries.c.name).where(s.libraries.c.id == library_id)).scalar_one()

    other = App.open(db_url)
    try:
        assert app.db.read_statement(name) == "Xuzhou Medical University Library"
        other.db.transaction(lambda conn: _RENAME.run(conn, {"id": library_id, "name": "Renamed elsewhere"}))
        assert app.db.read_statement(name) == "Renamed elsewhere"
        if app.db.is_sqlite:  # no read transaction left behind: another connection can checkpoint the whole WAL
            busy = other.db.transaction(lambda conn: conn.connection.dbapi_connection.execute(
                "PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0], write=False)
            assert busy == 0
    finally:
        other.close()
