"""Read-only reports and listings for staff: overdue loans, fines outstanding, the hold shelf,
circulation counts, and the lists behind the desk's `list` and `history` commands.

Nothing here writes.  Each function takes a ``Library`` and reads in one
transaction; unknown patrons are ``Refusal(UNKNOWN_PATRON)`` like everywhere
else.  Rows are plain dicts (money as Decimal in the library's currency).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, select

from ils_bridge.app import Library
from ils_bridge.money import from_minor
from ils_bridge.outcome import Refusal
from ils_bridge.reasons import Reason
from ils_bridge.storage import schema as s

PERIODS = ("day", "week", "month", "year")
CIRCULATION_OPS = ("checkout", "renew", "checkin")
PATRON_STATUSES = ("pending", "active", "left")


def _read(library: Library, work: Any) -> Any:
    return library.app.db.read(work)


def _money(library: Library, minor: int | None) -> Any:
    return None if minor is None else from_minor(minor, library.record.currency)


def patron_id(conn: Connection, library: Library, identifier: str) -> int:
    """A patron's id from their number or any card number they ever held."""
    identifier = (identifier or "").strip()
    by_card = select(s.cards.c.patron_id).where(s.cards.c.library_id == library.record.id, s.cards.c.number == identifier)
    found = conn.execute(select(s.patrons.c.id).where(
        s.patrons.c.library_id == library.record.id,
        (s.patrons.c.number == identifier) | s.patrons.c.id.in_(by_card))).scalar()
    if found is None:
        raise Refusal(Reason.UNKNOWN_PATRON, f"no patron has the number or card {identifier!r}")
    return found


# -- listings --------------------------------------------------------------
def patrons(library: Library, *, status: str | None = None, patron_type: str | None = None) -> list[dict[str, Any]]:
    if status is not None and status not in PATRON_STATUSES:
        raise ValueError(f"status is one of {', '.join(PATRON_STATUSES)}, not {status!r}")
    query = select(s.patrons.c.number, s.patrons.c.name, s.patrons.c.patron_type, s.patrons.c.patron_group,
                   s.patrons.c.status, s.patrons.c.blocked, s.patrons.c.banned_until, s.patrons.c.created_at) \
        .where(s.patrons.c.library_id == library.record.id).order_by(s.patrons.c.number)
    if status is not None:
        query = query.where(s.patrons.c.status == status)
    if patron_type is not None:
        query = query.where(s.patrons.c.patron_type == patron_type)
    return _read(library, lambda conn: [dict(r._mapping) for r in conn.execute(query)])


def card_history(library: Library, patron: str) -> list[dict[str, Any]]:
    """Every card the patron has held, oldest first, with the card each replacement replaced."""
    def work(conn: Connection) -> list[dict[str, Any]]:
        pid = patron_id(conn, library, patron)
        rows = list(conn.execute(select(s.cards).where(s.cards.c.patron_id == pid).order_by(s.cards.c.id)))
        numbers = {r.id: r.number for r in rows}
        return [{"card_id": r.id, "number": r.number, "kind": r.kind, "status": r.status, "issued_at": r.issued_at,
                 "valid_until": r.valid_until, "status_changed_at": r.status_changed_at,
                 "replaces": numbers.get(r.replaces_card_id), "note": r.note} for r in rows]

    return _read(library, work)


def patron_history(library: Library, patron: str, *, limit: int | None = None) -> list[dict[str, Any]]:
    """The patron's circulation decisions and money movements, newest first."""
    def work(conn: Connection) -> list[dict[str, Any]]:
        pid = patron_id(conn, library, patron)
        events = []
        for row in conn.execute(select(s.transactions, s.items.c.barcode)
                                .outerjoin(s.items, s.items.c.id == s.transactions.c.item_id)
                                .where(s.transactions.c.patron_id == pid)):
            events.append({"at": row.at, "what": row.op, "item": row.barcode, "amount": None,
                           "detail": "ok" if row.ok else f"refused: {row.reason}", "rule": row.rule_id})
        for row in conn.execute(select(s.ledger_entries, s.items.c.barcode)
                                .outerjoin(s.items, s.items.c.id == s.ledger_entries.c.item_id)
                                .where(s.ledger_entries.c.patron_id == pid)):
            what = f"{row.account}:{row.kind}"
            detail = " ".join(x for x in (row.fee_type, row.payment_type, row.reason) if x)
            events.append({"at": row.created_at, "what": what, "item": row.barcode,
                           "amount": _money(library, row.amount_minor), "detail": detail, "rule": row.rule_id})
        events.sort(key=lambda e: e["at"], reverse=True)
        return events[:limit] if limit else events

    return _read(library, work)


def ill_requests(library: Library, *, state: str | None = None, patron: str | None = None) -> list[dict[str, Any]]:
    def work(conn: Connection) -> list[dict[str, Any]]:
        query = select(s.ill_requests, s.patrons.c.number.label("patron")) \
            .join(s.patrons, s.patrons.c.id == s.ill_requests.c.patron_id) \
            .where(s.ill_requests.c.library_id == library.record.id).order_by(s.ill_requests.c.id)
        if state is not None:
            query = query.where(s.ill_requests.c.state == state)
        if patron is not None:
            query = query.where(s.ill_requests.c.patron_id == patron_id(conn, library, patron))
        return [{"request_id": r.id, "patron": r.patron, "title": r.title, "kind": r.kind, "state": r.state,
                 "lender": r.lender, "cost": _money(library, r.cost_minor), "subsidy": _money(library, r.subsidy_minor),
                 "updated_at": r.updated_at} for r in conn.execute(query)]

    return _read(library, work)


def closures(library: Library, *, since: dt.date | None = None) -> list[dict[str, Any]]:
    """Closed days: those in the policy and those added at the desk, by start date."""
    policy = library.current_policy()
    listed = [{"source": "policy", "closure_id": None, "start": c.start, "end": c.end, "kind": c.kind, "name": c.name}
              for c in policy.calendar.closures]
    stored = _read(library, lambda conn: [
        {"source": "desk", "closure_id": r.id, "start": r.start_date, "end": r.end_date, "kind": r.kind, "name": r.name}
        for r in conn.execute(select(s.closures).where(s.closures.c.library_id == library.record.id))])
    rows = sorted(listed + stored, key=lambda c: (c["start"], c["end"]))
    return [c for c in rows if since is None or c["end"] >= since]


# -- reports ---------------------------------------------------------------
def overdue(library: Library, at: dt.datetime) -> list[dict[str, Any]]:
    """Active loans past their due time, most overdue first."""
    tz = ZoneInfo(library.record.timezone)
    today = at.astimezone(tz).date()
    query = (select(s.loans.c.due_at, s.loans.c.renewals, s.loans.c.recalled_at, s.items.c.barcode, s.items.c.material,
                    s.bib_records.c.title, s.patrons.c.number, s.patrons.c.name, s.patrons.c.patron_type,
                    s.patrons.c.email, s.patrons.c.phone)
             .join(s.items, s.items.c.id == s.loans.c.item_id)
             .join(s.bib_records, s.bib_records.c.id == s.items.c.bib_id)
             .join(s.patrons, s.patrons.c.id == s.loans.c.patron_id)
             .where(s.loans.c.library_id == library.record.id, s.loans.c.status == "active", s.loans.c.due_at < at)
             .order_by(s.loans.c.due_at, s.items.c.barcode))
    return _read(library, lambda conn: [
        {"patron": r.number, "name": r.name, "patron_type": r.patron_type, "item": r.barcode, "title": r.title,
         "material": r.material, "due": r.due_at, "days_overdue": (today - r.due_at.astimezone(tz).date()).days,
         "recalled": r.recalled_at is not None, "email": r.email, "phone": r.phone} for r in conn.execute(query)])


def fines_outstanding(library: Library, *, minimum: Any = None) -> list[dict[str, Any]]:
    """Patrons who owe fees, largest balance first."""
    owed = func.sum(s.ledger_entries.c.amount_minor)
    query = (select(s.patrons.c.number, s.patrons.c.name, s.patrons.c.patron_type, owed.label("owed_minor"),
                    func.min(s.ledger_entries.c.created_at).label("since"))
             .join(s.patrons, s.patrons.c.id == s.ledger_entries.c.patron_id)
             .where(s.ledger_entries.c.library_id == library.record.id, s.ledger_entries.c.account == "fees")
             .group_by(s.patrons.c.id, s.patrons.c.number, s.patrons.c.name, s.patrons.c.patron_type)
             .having(owed > 0).order_by(owed.desc(), s.patrons.c.number))
    rows = _read(library, lambda conn: [
        {"patron": r.number, "name": r.name, "patron_type": r.patron_type, "owed": _money(library, r.owed_minor),
         "currency": library.record.currency.code, "first_entry": r.since} for r in conn.execute(query)])
    return [r for r in rows if minimum is None or r["owed"] >= minimum]


def hold_shelf_to_clear(library: Library, day: dt.date) -> list[dict[str, Any]]:
    """Copies to take off the hold shelf on ``day``: pickup time is over (still waiting for the daily
    job, or expired by it that day)."""
    tz = ZoneInfo(library.record.timezone)
    start = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
    end = start + dt.timedelta(days=1)
    holds = s.holds.c
    past_pickup = (holds.status == "ready") & (holds.shelf_expires_on < day)
    expired_today = (holds.status == "expired") & holds.item_id.is_not(None) & \
        (holds.closed_at >= start) & (holds.closed_at < end) & holds.shelf_expires_on.is_not(None)
    query = (select(holds.id, holds.status, holds.shelf_expires_on, holds.pickup_branch, s.items.c.barcode,
                    s.items.c.location, s.items.c.call_number, s.bib_records.c.title, s.patrons.c.number)
             .join(s.items, s.items.c.id == holds.item_id)
             .join(s.bib_records, s.bib_records.c.id == holds.bib_id)
             .join(s.patrons, s.patrons.c.id == holds.patron_id)
             .where(holds.library_id == library.record.id, past_pickup | expired_today)
             .order_by(holds.shelf_expires_on, s.items.c.barcode))
    return _read(library, lambda conn: [
        {"hold_id": r.id, "item": r.barcode, "title": r.title, "patron": r.number, "last_pickup_day": r.shelf_expires_on,
         "pickup_branch": r.pickup_branch, "location": r.location, "call_number": r.call_number,
         "state": "expired today" if r.status == "expired" else "pickup time over"} for r in conn.execute(query)])


def period_of(day: dt.date, period: str) -> str:
    """The label of the period a day falls in: 2026-03-02, 2026-W10, 2026-03 or 2026."""
    if period == "day":
        return day.isoformat()
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return f"{day.year}-{day.month:02d}"
    if period == "year":
        return str(day.year)
    raise ValueError(f"period is one of {', '.join(PERIODS)}, not {period!r}")


def circulation_counts(library: Library, start: dt.date, end: dt.date, *, period: str = "month",
                       ops: Iterable[str] = CIRCULATION_OPS) -> list[dict[str, Any]]:
    """Successful circulation transactions from ``start`` to ``end`` (inclusive, library days), counted by
    period, operation, patron type and material."""
    if end < start:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")
    period_of(start, period)  # rejects an unknown period before reading
    ops = tuple(ops)
    unknown = set(ops) - set(CIRCULATION_OPS)
    if unknown:
        raise ValueError(f"operations are {', '.join(CIRCULATION_OPS)}, not {', '.join(sorted(unknown))}")
    tz = ZoneInfo(library.record.timezone)
    since = dt.datetime.combine(start, dt.time(0), tzinfo=tz)
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
    t = s.transactions.c
    query = (select(t.at, t.op, s.patrons.c.patron_type, s.items.c.material)
             .join(s.patrons, s.patrons.c.id == t.patron_id)
             .join(s.items, s.items.c.id == t.item_id)
             .where(t.library_id == library.record.id, t.ok.is_(True), t.op.in_(ops), t.at >= since, t.at < until))

    def work(conn: Connection) -> Counter:
        counts: Counter = Counter()
        for row in conn.execute(query):
            counts[(period_of(row.at.astimezone(tz).date(), period), row.op, row.patron_type, row.material)] += 1
        return counts

    counts = _read(library, work)
    return [{"period": p, "op": op, "patron_type": pt, "material": m, "count": n}
            for (p, op, pt, m), n in sorted(counts.items())]
