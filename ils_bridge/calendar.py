"""A library's calendar: weekly closed days, holidays, vacations, opening hours.

Due dates are calendar days in the library's timezone; a loan is due at the
end of its due day.  The calendar answers the questions the policy asks:
is this day open, which closure covers it, what is the next open day, and how
many counted days lie between two dates when some kinds of closure do not count.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CLOSURE_KINDS = ("holiday", "vacation", "closed")


@dataclass(frozen=True)
class Closure:
    start: dt.date
    end: dt.date  # inclusive
    kind: str  # holiday | vacation | closed
    name: str = ""

    def covers(self, day: dt.date) -> bool:
        return self.start <= day <= self.end


@dataclass
class LibraryCalendar:
    timezone: str
    weekly_closed: frozenset[int] = frozenset()  # 0 = Monday
    closures: list[Closure] = field(default_factory=list)
    opening_hours: dict[int, tuple[dt.time, dt.time]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.tz = ZoneInfo(self.timezone)
        self.closures.sort(key=lambda c: c.start)

    def add_closure(self, closure: Closure) -> None:
        self.closures.append(closure)
        self.closures.sort(key=lambda c: c.start)

    def local_date(self, instant: dt.datetime) -> dt.date:
        return instant.astimezone(self.tz).date()

    def end_of_day(self, day: dt.date) -> dt.datetime:
        """The instant a loan due on ``day`` falls due: the last second of that day, local time."""
        return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=self.tz)

    def closure_on(self, day: dt.date, kinds: tuple[str, ...] = CLOSURE_KINDS) -> Closure | None:
        for closure in self.closures:
            if closure.start > day:
                break
            if closure.kind in kinds and closure.covers(day):
                return closure
        return None

    def is_open(self, day: dt.date) -> bool:
        return day.weekday() not in self.weekly_closed and self.closure_on(day) is None

    def next_open_day(self, day: dt.date) -> dt.date:
        """``day`` itself if open, else the first open day after it."""
        for _ in range(3660):
            if self.is_open(day):
                return day
            day += dt.timedelta(days=1)
        raise ValueError("the calendar has no open day in ten years")

    def add_counted_days(self, start: dt.date, days: int, paused_by: tuple[str, ...]) -> dt.date:
        """The date ``days`` counted days after ``start``, not counting days in closures of the given kinds."""
        day = start
        counted = 0
        while counted < days:
            day += dt.timedelta(days=1)
            if paused_by and self.closure_on(day, paused_by) is not None:
                continue
            counted += 1
        return day

    def closure_ending(self, closure: Closure) -> dt.date:
        """The last day of the run of closures that ``closure`` belongs to (adjacent closures merge)."""
        end = closure.end
        while True:
            following = self.closure_on(end + dt.timedelta(days=1), (closure.kind,))
            if following is None:
                return end
            end = following.end


def parse_weekdays(names: list[str]) -> frozenset[int]:
    return frozenset(WEEKDAYS.index(n) for n in names)
