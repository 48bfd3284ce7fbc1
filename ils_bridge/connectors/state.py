"""What connectors remember between runs, per library: e.g. the patron sync's ``changed_since`` watermark.

One small table, ``connector_state`` (library, key) -> text value, on the
shared ``metadata`` so ``create_all`` and migrations see it.  It is defined
here rather than in ``storage/schema.py`` because only connectors use it;
:func:`ensure_table` creates it on first use in a database made before it
existed.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, ForeignKey, String, Table, Text, select, update
from sqlalchemy.engine import Engine

from ils_bridge.storage.schema import Id, metadata
from ils_bridge.storage.types import UtcDateTime

PATRON_SYNC_WATERMARK = "patron_sync.changed_since"

connector_state = Table(
    "connector_state",
    metadata,
    Column("library_id", Id, ForeignKey("libraries.id"), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)


def ensure_table(engine: Engine) -> None:
    connector_state.create(engine, checkfirst=True)


def read_value(engine: Engine, library_id: int, key: str) -> str | None:
    ensure_table(engine)
    with engine.connect() as conn:
        return conn.execute(select(connector_state.c.value).where(
            connector_state.c.library_id == library_id, connector_state.c.key == key)).scalar()


def write_value(engine: Engine, library_id: int, key: str, value: str, now: dt.datetime) -> None:
    """Set the value (insert or replace)."""
    ensure_table(engine)
    with engine.begin() as conn:
        changed = conn.execute(update(connector_state).where(
            connector_state.c.library_id == library_id, connector_state.c.key == key,
        ).values(value=value, updated_at=now)).rowcount
        if not changed:
            conn.execute(connector_state.insert().values(library_id=library_id, key=key, value=value, updated_at=now))


def read_watermark(engine: Engine, library_id: int) -> dt.datetime | None:
    """The instant the last complete patron sync started, if there was one."""
    value = read_value(engine, library_id, PATRON_SYNC_WATERMARK)
    return None if value is None else dt.datetime.fromisoformat(value)


def write_watermark(engine: Engine, library_id: int, started_at: dt.datetime, now: dt.datetime) -> None:
    write_value(engine, library_id, PATRON_SYNC_WATERMARK, started_at.isoformat(), now)
