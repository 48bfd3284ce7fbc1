"""Reading scenario events: the ops, their fields, and the errors both engines raise alike.

Both replay engines read event fields through these helpers, so a malformed
field gives the same ``invalid_event`` message whichever engine runs.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

FAR_FUTURE = dt.date(2099, 12, 31)

OPS = ("patron", "item", "closed", "checkout", "checkin", "renew", "hold", "cancel_hold", "recall", "lost", "found",
       "damage", "pay", "waive", "tick")


class EventError(ValueError):
    """An event line that cannot be replayed as written."""


def unknown_op(op: Any) -> EventError:
    return EventError(f"unknown op {op!r} (known: {', '.join(OPS)})")


def output(op: str, ok: bool, reason: str | None, due: str | None, fees: list[dict[str, str]], rule: str | None) -> dict[str, Any]:
    """One output line (docs/simulation.md)."""
    return {"op": op, "ok": ok, "reason": reason, "due": due, "fees": fees, "rule": rule}


def invalid(number: int, exc: Exception) -> dict[str, Any]:
    return {"op": None, "ok": False, "reason": "invalid_event", "due": None, "fees": [], "rule": None,
            "message": f"line {number}: {exc}"}


def req(event: dict[str, Any], key: str) -> Any:
    if event.get(key) in (None, ""):
        raise EventError(f"{event.get('op')} needs {key!r}")
    return event[key]


def instant(value: Any) -> dt.datetime:
    if not isinstance(value, str):
        raise EventError("every event needs 'at': an ISO 8601 time with its offset")
    moment = dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise EventError(f"'at' {value!r} has no offset")
    return moment


def date(value: Any) -> dt.date | None:
    return None if value in (None, "") else dt.date.fromisoformat(str(value))


def decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))
