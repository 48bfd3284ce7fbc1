"""The outbox's dialect-specific parts (ON CONFLICT, FOR UPDATE SKIP LOCKED) on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading

import sqlalchemy
from sqlalchemy import func, insert, select

from ils_bridge.connectors.notices import enqueue, outbox
from ils_bridge.storage.schema import libraries, notices_outbox, patrons

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)
ROWS = 40
FINE = {"amount": "5.00", "currency": "CNY", "fee_type": "overdue"}


def prepared(db_url: str) -> sqlalchemy.Engine:
    connect_args = {"timeout": 30} if db_url.startswith("sqlite") else {}
    engine = sqlalchemy.create_engine(db_url, connect_args=connect_args)
    with engine.begin() as conn:
        conn.execute(insert(libraries).values(id=1, code="l", name="L", currency="CNY", timezone="UTC"))
        conn.execute(
            insert(patrons).values(
                id=1,
                library_id=1,
                number="p",
                name="P",
                patron_type="t",
                status="active",
                created_at=NOW,
                updated_at=NOW,
            )
        )
    return engine


def test_enqueue_is_idempotent_on_each_engine(db_url: str) -> None:
    engine = prepared(db_url)
    ids = []
    for _ in range(2):
        with engine.begin() as conn:
            ids.append(
                enqueue(
                    conn,
                    library_id=1,
                    patron_id=1,
                    kind="fine",
                    channel="sms",
                    dedupe_key="k",
                    payload=FINE,
                    now=NOW,
                )
            )
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(notices_outbox)).scalar() == 1
    assert isinstance(ids[0], int) and ids[1] is None
    engine.dispose()


def test_concurrent_workers_claim_disjoint_rows_on_each_engine(db_url: str) -> None:
    engine = prepared(db_url)
    with engine.begin() as conn:
        for n in range(ROWS):
            enqueue(
                conn, library_id=1, patron_id=1, kind="fine", channel="sms", dedupe_key=f"k{n}", payload=FINE, now=NOW
            )
    claims: list[list[int]] = [[], [], []]

    def worker(mine: list[int]) -> None:
        while batch := outbox.claim_due(engine, NOW, limit=2, lease=dt.timedelta(minutes=5)):
            mine.extend(c.id for c in batch)

    threads = [threading.Thread(target=worker, args=(mine,)) for mine in claims]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [i for mine in claims for i in mine]
    assert len(everything) == ROWS and len(set(everything)) == ROWS
    with engine.connect() as conn:
        assert set(conn.execute(select(notices_outbox.c.attempts)).scalars()) == {1}
    engine.dispose()
