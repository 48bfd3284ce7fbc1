"""Where "now" comes from: the system clock, or a settable one for simulations and tests."""

from __future__ import annotations

import datetime as dt
from typing import Protocol


class Clock(Protocol):
    def now(self) -> dt.datetime: ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc)


class SettableClock:
    """A clock that stands still until set: simulations replay events at their own times."""

    def __init__(self, start: dt.datetime):
        self.set(start)

    def set(self, instant: dt.datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("the clock needs a timezone-aware time")
        self._now = instant

    def now(self) -> dt.datetime:
        return self._now
