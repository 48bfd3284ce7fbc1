"""Migrations build exactly the schema the code declares, on both engines."""

from __future__ import annotations

import pytest
import sqlalchemy
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from ils_bridge.storage.migrate import all_metadata, current_revision, head_revision, upgrade


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    cluster = request.getfixturevalue("pg_cluster")
    if cluster is None:
        pytest.skip("PostgreSQL is not available here")
    name = f"empty_{tmp_path.name.replace('-', '_')[-40:]}".lower()
    engine = sqlalchemy.create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    engine.dispose()
    return cluster.url(name)


def test_upgrade_to_head_matches_the_declared_tables(empty_db_url):
    upgrade(empty_db_url)
    assert current_revision(empty_db_url) == head_revision()
    engine = sqlalchemy.create_engine(empty_db_url)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), all_metadata())
    engine.dispose()
    assert differences == []
    upgrade(empty_db_url)  # running it again changes nothing
