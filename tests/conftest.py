"""Shared fixtures: a database URL on each engine, an App with a settable clock, example libraries.

Tests that take ``db_url`` (directly or through ``app``) run once on SQLite
and once on PostgreSQL.  PostgreSQL is started by the suite itself
(tests/pg_cluster.py); if it cannot be started, PostgreSQL runs are skipped
locally but fail under CI (``CI=true``), so a broken set-up never passes.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
from pathlib import Path
from typing import Iterator
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy

from ils_bridge.app import App, Library
from ils_bridge.clock import SettableClock
from ils_bridge.storage.migrate import all_metadata
from tests.pg_cluster import PgCluster, find_bindir

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "policies" / "examples"
ENGINES = ["sqlite", "postgresql"]
_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster | None]:
    bindir = find_bindir()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed; CI must install it (.ci/run)")
        yield None
        return
    cluster = PgCluster(bindir)
    try:
        cluster.start()
        cluster.wait_ready()
        engine = sqlalchemy.create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql("CREATE DATABASE ils_template")
        template = sqlalchemy.create_engine(cluster.url("ils_template"))
        all_metadata().create_all(template)
        template.dispose()
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - report any start-up failure the same way
        cluster.stop()
        if os.environ.get("CI"):
            pytest.fail(f"could not start PostgreSQL: {exc}")
        yield None
        return
    yield cluster
    cluster.stop()


def _admin(cluster: PgCluster, sql: str) -> None:
    engine = sqlalchemy.create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(sql)
    engine.dispose()


def fresh_pg_database(cluster: PgCluster) -> str:
    name = f"t_{os.getpid()}_{next(_counter)}"
    _admin(cluster, f"CREATE DATABASE {name} TEMPLATE ils_template")
    return cluster.url(name)


def drop_pg_database(cluster: PgCluster, url: str) -> None:
    """Drop a test's database at once, so the cluster does not grow by one database a test."""
    _admin(cluster, f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")


@pytest.fixture(params=ENGINES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database with the schema, on each engine."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'library.db'}"
        engine = sqlalchemy.create_engine(url)
        all_metadata().create_all(engine)
        engine.dispose()
        yield url
        return
    cluster = request.getfixturevalue("pg_cluster")
    if cluster is None:
        pytest.skip("PostgreSQL is not available here")
    url = fresh_pg_database(cluster)
    yield url
    drop_pg_database(cluster, url)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'library.db'}"
    engine = sqlalchemy.create_engine(url)
    all_metadata().create_all(engine)
    engine.dispose()
    return url


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(dt.datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")))


@pytest.fixture
def app(db_url: str, clock: SettableClock) -> Iterator[App]:
    application = App.open(db_url, clock)
    yield application
    application.close()


def example_policy(code: str) -> str:
    return (EXAMPLES / f"{code}.yaml").read_text(encoding="utf-8")


@pytest.fixture
def make_library(app: App):
    def make(code: str) -> Library:
        return app.create_library(example_policy(code), author="test", filename=f"{code}.yaml")

    return make
