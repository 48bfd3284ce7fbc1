"""Column types shared by every table: timezone-aware instants and JSON documents."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import DateTime, Text
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator):
    """A timezone-aware instant, stored in UTC.

    SQLite has no timezone type and returns naive datetimes; PostgreSQL has
    ``timestamptz``.  This type makes both behave the same: aware in, aware
    (UTC) out, and naive input is refused rather than guessed at.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: times must be timezone-aware")
        utc = value.astimezone(dt.timezone.utc)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)

    # On SQLite the instant is text in SQLAlchemy's format ("2026-03-02 01:00:00.000000", UTC).  Reading and
    # writing it directly, in one step instead of SQLAlchemy's two, keeps the format and is much cheaper: every
    # circulation call converts a dozen of these, and binds its own "now" three or four times (the loan, the
    # item's update, the audit line), so the last instant written is remembered.
    def bind_processor(self, dialect: Any) -> Any:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        return _sqlite_text

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        return _sqlite_instant


_last_written: tuple[dt.datetime | None, str | None] = (None, None)


def _sqlite_text(value: dt.datetime | None) -> str | None:
    """An aware instant as SQLite text in UTC; naive instants are refused."""
    global _last_written
    if value is None:
        return None
    last = _last_written  # one read: another thread may replace the pair, never half of it
    if last[0] is value:
        return last[1]
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: times must be timezone-aware")
    text = value.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat(" ", "microseconds")
    _last_written = (value, text)
    return text


def _sqlite_instant(value: str | None) -> dt.datetime | None:
    """SQLite's UTC text as an aware instant."""
    return None if value is None else dt.datetime.fromisoformat(value + "+00:00")


class JsonText(TypeDecorator):
    """A JSON document kept as text, so SQLite and PostgreSQL store it alike."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)

    def process_result_value(self, value: str | None, dialect: Any) -> Any:
        return None if value is None else json.loads(value)
