"""Deployment tests need PostgreSQL (CI starts it through the ``pg_cluster`` fixture)."""

from __future__ import annotations

import pytest

from tests.deployment.support import migrated_pg_database
from tests.pg_cluster import PgCluster


@pytest.fixture
def pg_url(pg_cluster: PgCluster | None) -> str:
    """An empty PostgreSQL database at the newest schema revision."""
    if pg_cluster is None:
        pytest.skip("PostgreSQL is not available here")
    return migrated_pg_database(pg_cluster)
