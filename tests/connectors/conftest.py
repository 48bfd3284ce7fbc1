"""Shared fixtures of the connector tests: an in-memory database with one library, a fake clock and sleep."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
import sqlalchemy
from sqlalchemy import insert

from ils_bridge.connectors.http import HttpClient, RetryPolicy
from ils_bridge.storage.schema import cards, libraries, metadata, patrons

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)
BASE = "https://host.example.edu/api/"


@pytest.fixture
def engine() -> sqlalchemy.Engine:
    engine = sqlalchemy.create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(libraries).values(
                id=1, code="xuzhou", name="Xuzhou Library", currency="CNY", timezone="Asia/Shanghai", language="zh"
            )
        )
    return engine


@pytest.fixture
def sleeps() -> list[float]:
    """The delays the client asked to sleep, instead of sleeping."""
    return []


@pytest.fixture
def client(sleeps: list[float]) -> HttpClient:
    return HttpClient("host", BASE, retry=RetryPolicy(attempts=3, backoff=0.5), sleep=sleeps.append)


@pytest.fixture
def now() -> dt.datetime:
    return NOW


PatronMaker = Callable[..., int]


@pytest.fixture
def add_patron(engine: sqlalchemy.Engine) -> PatronMaker:
    """add_patron("2023001", email=...) -> the new patron's id."""

    def add(number: str, **values: object) -> int:
        row = {
            "library_id": 1,
            "number": number,
            "name": f"Patron {number}",
            "patron_type": "undergraduate",
            "status": "active",
            "created_at": NOW,
            "updated_at": NOW,
            **values,
        }
        with engine.begin() as conn:
            return conn.execute(insert(patrons).values(**row)).inserted_primary_key[0]

    return add


@pytest.fixture
def add_card(engine: sqlalchemy.Engine) -> PatronMaker:
    """add_card(patron_id, "C001", valid_until=...) -> the new card's id."""

    def add(patron_id: int, number: str, **values: object) -> int:
        row = {
            "library_id": 1,
            "patron_id": patron_id,
            "number": number,
            "status": "active",
            "issued_at": NOW,
            "status_changed_at": NOW,
            **values,
        }
        with engine.begin() as conn:
            return conn.execute(insert(cards).values(**row)).inserted_primary_key[0]

    return add
