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
    # circulation call converts a dozen of these.
    def bind_processor(self, dialect: Any) -> Any:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def to_text(value: dt.datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is None:
                raise ValueError(f"naive datetime {value!r}: times must be timezone-aware")
            return value.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat(" ", "microseconds")

        return to_text

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        def from_text(value: str | None) -> dt.datetime | None:
            return None if value is None else dt.datetime.fromisoformat(value).replace(tzinfo=dt.timezone.utc)

        return from_text


class JsonText(TypeDecorator):
    """A JSON document kept as text, so SQLite and PostgreSQL store it alike."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)

    def process_result_value(self, value: str | None, dialect: Any) -> Any:
        return None if value is None else json.loads(value)
