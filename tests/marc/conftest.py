from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy

from ils_bridge.services.catalogue import Catalogue
from ils_bridge.storage.schema import libraries

DATA = Path(__file__).parent.parent / "data" / "marc"


class StepClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


@pytest.fixture
def data() -> Path:
    return DATA


@pytest.fixture
def engine(db_url: str) -> Iterator[sqlalchemy.Engine]:
    """The schema and two libraries, on SQLite and on PostgreSQL (``db_url``)."""
    engine = with_libraries(db_url)
    yield engine
    engine.dispose()


def with_libraries(url: str) -> sqlalchemy.Engine:
    """An engine on a database that has the schema, with the two test libraries added."""
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            libraries.insert().values(id=1, code="xz", name="Xuzhou", currency="CNY", timezone="Asia/Shanghai")
        )
        conn.execute(
            libraries.insert().values(id=2, code="hn", name="Hanoi", currency="VND", timezone="Asia/Ho_Chi_Minh")
        )
    return engine


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
def catalogue(engine: sqlalchemy.Engine, clock: StepClock) -> Catalogue:
    return Catalogue(engine, 1, clock=clock)
