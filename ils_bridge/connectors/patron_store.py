"""The database side of patron sync: apply one upstream patron, mark patrons as left.

Every function takes an open connection inside the caller's transaction, so
one record is applied all or nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from ils_bridge.storage.schema import cards, ledger_entries, loans, patrons

LEFT = "left"
NEEDS_CLEARANCE = "needs_clearance"
UNCHANGED = "unchanged"
NEW_PATRON_STATUS = "active"
REQUIRED_FOR_NEW = (
    "name",
    "patron_type",
)  # NOT NULL columns without a default  # the host is the registry: its patrons need no approval here


class StoreConflict(ValueError):
    """The upstream record contradicts the database (e.g. a card number held by someone else)."""


@dataclass(frozen=True)
class UpstreamCard:
    number: str
    valid_until: dt.date | None = None


@dataclass(frozen=True)
class UpstreamPatron:
    """A patron as the host describes it.  ``attributes`` holds only the columns the host sent."""

    number: str
    attributes: dict[str, Any] = field(default_factory=dict)
    card: UpstreamCard | None = None
    left: bool = False


@dataclass(frozen=True)
class Change:
    created: bool = False
    updated: bool = False
    card_replaced: bool = False


def apply_upstream_patron(conn: Connection, library_id: int, upstream: UpstreamPatron, now: dt.datetime) -> Change:
    """Create or update the patron and their current card; a patron back upstream becomes active again."""
    row = (
        conn.execute(select(patrons).where(patrons.c.library_id == library_id, patrons.c.number == upstream.number))
        .mappings()
        .first()
    )
    if row is None:
        patron_id = _create_patron(conn, library_id, upstream, now)
        if upstream.card:
            _insert_card(conn, library_id, patron_id, upstream.card, now, replaces=None)
        return Change(created=True)
    changes = {k: v for k, v in upstream.attributes.items() if row[k] != v}
    if row["status"] == LEFT:
        changes.update(status=NEW_PATRON_STATUS, left_at=None)
    card_updated, card_replaced = (
        _sync_card(conn, library_id, row["id"], upstream.card, now) if upstream.card else (False, False)
    )
    if changes:
        conn.execute(patrons.update().where(patrons.c.id == row["id"]).values(**changes, updated_at=now))
    return Change(updated=bool(changes) or card_updated or card_replaced, card_replaced=card_replaced)


def _create_patron(conn: Connection, library_id: int, upstream: UpstreamPatron, now: dt.datetime) -> int:
    for required in REQUIRED_FOR_NEW:
        if not upstream.attributes.get(required):
            raise StoreConflict(f"patron {upstream.number}: a new patron needs a {required}")
    result = conn.execute(
        patrons.insert().values(
            library_id=library_id,
            number=upstream.number,
            status=NEW_PATRON_STATUS,
            created_at=now,
            updated_at=now,
            **upstream.attributes,
        )
    )
    return result.inserted_primary_key[0]


def _current_card(conn: Connection, patron_id: int) -> Any:
    return (
        conn.execute(
            select(cards)
            .where(cards.c.patron_id == patron_id, cards.c.status != "replaced")
            .order_by(cards.c.id.desc())
        )
        .mappings()
        .first()
    )


def _sync_card(
    conn: Connection, library_id: int, patron_id: int, card: UpstreamCard, now: dt.datetime
) -> tuple[bool, bool]:
    """(validity updated, card replaced).  A new number replaces the current card, keeping history."""
    current = _current_card(conn, patron_id)
    if current is not None and current["number"] == card.number:
        if card.valid_until is None or current["valid_until"] == card.valid_until:
            return False, False
        conn.execute(cards.update().where(cards.c.id == current["id"]).values(valid_until=card.valid_until))
        return True, False
    if current is not None:
        conn.execute(cards.update().where(cards.c.id == current["id"]).values(status="replaced", status_changed_at=now))
    _insert_card(conn, library_id, patron_id, card, now, replaces=None if current is None else current["id"])
    return False, current is not None


def _insert_card(
    conn: Connection, library_id: int, patron_id: int, card: UpstreamCard, now: dt.datetime, replaces: int | None
) -> None:
    holder = conn.execute(
        select(cards.c.patron_id).where(
            cards.c.library_id == library_id, cards.c.number == card.number, cards.c.status != "replaced"
        )
    ).scalar()
    if holder is not None and holder != patron_id:
        raise StoreConflict(f"card {card.number} already belongs to another patron")
    conn.execute(
        cards.insert().values(
            library_id=library_id,
            patron_id=patron_id,
            number=card.number,
            status="active",
            issued_at=now,
            valid_until=card.valid_until,
            replaces_card_id=replaces,
            status_changed_at=now,
            note="from patron sync",
        )
    )


def has_obligations(conn: Connection, patron_id: int) -> bool:
    """True if the patron holds any loan or owes any money (fees balance above zero)."""
    open_loans = conn.execute(
        select(func.count()).select_from(loans).where(loans.c.patron_id == patron_id, loans.c.status == "active")
    ).scalar_one()
    owed = conn.execute(
        select(func.coalesce(func.sum(ledger_entries.c.amount_minor), 0)).where(
            ledger_entries.c.patron_id == patron_id, ledger_entries.c.account == "fees"
        )
    ).scalar_one()
    return open_loans > 0 or owed > 0


def leave(conn: Connection, library_id: int, number: str, now: dt.datetime) -> str:
    """Mark a patron who left upstream: ``left`` if clear, else ``needs_clearance`` (kept active).

    Patrons are never deleted.  Returns :data:`LEFT`, :data:`NEEDS_CLEARANCE`
    or :data:`UNCHANGED` (unknown here, or already left).
    """
    row = conn.execute(
        select(patrons.c.id, patrons.c.status).where(patrons.c.library_id == library_id, patrons.c.number == number)
    ).first()
    if row is None or row.status == LEFT:
        return UNCHANGED
    if has_obligations(conn, row.id):
        return NEEDS_CLEARANCE
    conn.execute(patrons.update().where(patrons.c.id == row.id).values(status=LEFT, left_at=now, updated_at=now))
    return LEFT


def synced_patrons_not_in(engine: Engine, library_id: int, seen: Iterable[str]) -> list[str]:
    """Numbers of patrons who came from the host (``external_id`` set) and are not left, minus ``seen``."""
    with engine.connect() as conn:
        numbers = conn.execute(
            select(patrons.c.number).where(
                patrons.c.library_id == library_id,
                patrons.c.status != LEFT,
                patrons.c.external_id.is_not(None),
            )
        ).scalars()
        return sorted(set(numbers) - set(seen))
