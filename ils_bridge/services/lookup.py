"""Finding patrons, cards, items and loans, and turning them into policy facts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, bindparam, func, or_, select

from ils_bridge.outcome import Refusal
from ils_bridge.reasons import Reason
from ils_bridge.services.context import Ctx
from ils_bridge.storage import schema as s
from policies.decisions import classify

LIVE_CARD_STATUSES = ("active", "lost", "expired", "blocked", "confiscated")
CARD_REFUSALS = {
    "lost": Reason.CARD_LOST,
    "blocked": Reason.CARD_BLOCKED,
    "confiscated": Reason.CARD_BLOCKED,
    "expired": Reason.CARD_EXPIRED,
    "replaced": Reason.CARD_REPLACED,
}


@dataclass(frozen=True)
class PatronRef:
    """A patron as identified by a terminal or a person: the row and the card used (if any)."""

    row: Row
    card: Row | None

    @property
    def id(self) -> int:
        return self.row.id


_CARD_BY_NUMBER = (
    select(s.cards)
    .where(s.cards.c.library_id == bindparam("library"), s.cards.c.number == bindparam("number"))
    .order_by((s.cards.c.status == "replaced").asc(), s.cards.c.id.desc())
    .limit(1)
)
_PATRON_BY_ID = select(s.patrons).where(s.patrons.c.library_id == bindparam("library"), s.patrons.c.id == bindparam("id"))
_PATRON_BY_NUMBER = select(s.patrons).where(s.patrons.c.library_id == bindparam("library"), s.patrons.c.number == bindparam("number"))
_PATRON_BY_ID_LOCKED = _PATRON_BY_ID.with_for_update()
_PATRON_BY_NUMBER_LOCKED = _PATRON_BY_NUMBER.with_for_update()


def find_patron(ctx: Ctx, identifier: str, *, lock: bool = False) -> PatronRef:
    """By card number (a live card first, then a replaced one) or by patron number."""
    identifier = (identifier or "").strip()
    if not identifier:
        raise Refusal(Reason.UNKNOWN_PATRON, "no patron identifier was given")
    card = ctx.conn.execute(_CARD_BY_NUMBER, {"library": ctx.library.id, "number": identifier}).first()
    locked = lock and ctx.lock_rows
    if card is not None:
        query, params = (_PATRON_BY_ID_LOCKED if locked else _PATRON_BY_ID), {"id": card.patron_id}
    else:
        query, params = (_PATRON_BY_NUMBER_LOCKED if locked else _PATRON_BY_NUMBER), {"number": identifier}
    patron = ctx.conn.execute(query, {"library": ctx.library.id, **params}).first()
    if patron is None:
        raise Refusal(Reason.UNKNOWN_PATRON, f"no patron has the number or card {identifier!r}")
    if card is None:
        card = current_card(ctx, patron.id)
    return PatronRef(patron, card)


_CURRENT_CARD = (
    select(s.cards)
    .where(s.cards.c.patron_id == bindparam("patron"), s.cards.c.status.in_(LIVE_CARD_STATUSES))
    .order_by((s.cards.c.status == "active").desc(), s.cards.c.id.desc())
    .limit(1)
)


def current_card(ctx: Ctx, patron_id: int) -> Row | None:
    return ctx.conn.execute(_CURRENT_CARD, {"patron": patron_id}).first()


def patron_standing_refusal(ctx: Ctx, ref: PatronRef, *, need_card: bool = True) -> Refusal | None:
    """Why this patron may not transact at all today (status, card, ban), or None."""
    patron = ref.row
    if patron.status == "pending":
        return Refusal(Reason.PATRON_PENDING)
    if patron.status == "left":
        return Refusal(Reason.PATRON_LEFT)
    if patron.blocked:
        return Refusal(Reason.PATRON_BLOCKED, f"the account is blocked: {patron.block_reason or 'by staff'}")
    if patron.banned_until is not None and patron.banned_until >= ctx.today:
        return Refusal(Reason.PATRON_BANNED, f"borrowing is banned until {patron.banned_until}")
    card = ref.card
    if card is None:
        return Refusal(Reason.NO_CARD) if need_card else None
    if card.status != "active":
        return Refusal(CARD_REFUSALS.get(card.status, Reason.CARD_BLOCKED))
    if card.valid_until is not None and card.valid_until < ctx.today:
        return Refusal(Reason.CARD_EXPIRED, f"the card expired on {card.valid_until}")
    return None


def require_standing(ctx: Ctx, ref: PatronRef) -> None:
    refusal = patron_standing_refusal(ctx, ref)
    if refusal is not None:
        raise refusal


_ACTIVE_PACKAGE = (
    select(s.package_purchases.c.package)
    .where(s.package_purchases.c.patron_id == bindparam("patron"), s.package_purchases.c.valid_until >= bindparam("today"))
    .order_by(s.package_purchases.c.bought_at.desc())
    .limit(1)
)


def active_package(ctx: Ctx, patron_id: int) -> str | None:
    return ctx.conn.execute(_ACTIVE_PACKAGE, {"patron": patron_id, "today": ctx.today}).scalar()


def patron_facts(ctx: Ctx, ref: PatronRef) -> dict[str, Any]:
    return {
        "patron_type": ref.row.patron_type,
        "patron_group": ref.row.patron_group,
        "package": active_package(ctx, ref.id),
        "card_kind": ref.card.kind if ref.card is not None else None,
    }


_ITEM_BY_BARCODE = select(s.items).where(s.items.c.library_id == bindparam("library"), s.items.c.barcode == bindparam("barcode"))
_ITEM_BY_BARCODE_LOCKED = _ITEM_BY_BARCODE.with_for_update()
_COPIES = (
    select(func.count()).select_from(s.items)
    .where(s.items.c.bib_id == bindparam("bib"), s.items.c.status.not_in(("withdrawn", "lost")))
)


def find_item(ctx: Ctx, barcode: str, *, lock: bool = False) -> Row:
    query = _ITEM_BY_BARCODE_LOCKED if lock and ctx.lock_rows else _ITEM_BY_BARCODE
    item = ctx.conn.execute(query, {"library": ctx.library.id, "barcode": (barcode or "").strip()}).first()
    if item is None:
        raise Refusal(Reason.UNKNOWN_ITEM, f"no item has the barcode {barcode!r}")
    return item


def copies_of(ctx: Ctx, bib_id: int) -> int:
    """Copies the library holds of a title (all stacks; withdrawn and lost copies do not count)."""
    return ctx.conn.execute(_COPIES, {"bib": bib_id}).scalar_one()


def item_facts(ctx: Ctx, item: Row, copies: int | None = None) -> dict[str, Any]:
    facts = {
        "material": item.material,
        "collection": item.collection,
        "language": item.language,
        "classification": item.classification,
        "branch": item.branch,
        "location": item.location,
        "pub_year": item.pub_year,
        "closed_stack": item.closed_stack,
        "copies": copies if copies is not None else copies_of(ctx, item.bib_id),
    }
    return classify(ctx.policy, facts)


_ACTIVE_LOAN_OF_ITEM = select(s.loans).where(s.loans.c.item_id == bindparam("item"), s.loans.c.status == "active")
_ACTIVE_LOANS_WITH_ITEMS = (
    select(s.loans, s.items.c.barcode, s.items.c.price_minor, s.items.c.bib_id, s.items.c.material,
           s.items.c.collection, s.items.c.language, s.items.c.classification, s.items.c.branch,
           s.items.c.location, s.items.c.pub_year, s.items.c.closed_stack)
    .join(s.items, s.items.c.id == s.loans.c.item_id)
    .where(s.loans.c.patron_id == bindparam("patron"), s.loans.c.status == "active")
    .order_by(s.loans.c.due_at)
)


def active_loan_of_item(ctx: Ctx, item_id: int) -> Row | None:
    return ctx.conn.execute(_ACTIVE_LOAN_OF_ITEM, {"item": item_id}).first()


def active_loans_with_items(ctx: Ctx, patron_id: int) -> list[Row]:
    return list(ctx.conn.execute(_ACTIVE_LOANS_WITH_ITEMS, {"patron": patron_id}))


def loan_item_facts(ctx: Ctx, loan: Row) -> dict[str, Any]:
    """Facts of a loaned item as limits count them (copies do not matter there)."""
    return classify(ctx.policy, {
        "material": loan.material, "collection": loan.collection, "language": loan.language,
        "classification": loan.classification, "branch": loan.branch, "location": loan.location,
        "pub_year": loan.pub_year, "closed_stack": loan.closed_stack,
    })


def due_day(ctx: Ctx, loan: Row) -> dt.date:
    return ctx.calendar.local_date(loan.due_at)


_BALANCE = (
    select(func.coalesce(func.sum(s.ledger_entries.c.amount_minor), 0))
    .where(s.ledger_entries.c.patron_id == bindparam("patron"), s.ledger_entries.c.account == bindparam("account"))
)
_DEPOSIT_TAKEN = (
    select(func.coalesce(func.sum(s.ledger_entries.c.amount_minor), 0)).where(
        s.ledger_entries.c.patron_id == bindparam("patron"),
        s.ledger_entries.c.account == "deposit",
        s.ledger_entries.c.kind.in_(("deposit_take", "deposit_refund")),
    )
)
_WAITING_FOR_TITLE = (
    select(s.holds).where(s.holds.c.bib_id == bindparam("bib"), s.holds.c.status == "waiting")
    .order_by(s.holds.c.placed_at, s.holds.c.id)
)
_WAITING_FOR_ITEM = (
    select(s.holds)
    .where(s.holds.c.bib_id == bindparam("bib"), s.holds.c.status == "waiting",
           or_(s.holds.c.item_id.is_(None), s.holds.c.item_id == bindparam("item")))
    .order_by(s.holds.c.placed_at, s.holds.c.id)
)


def balance(ctx: Ctx, patron_id: int, account: str) -> Decimal:
    return ctx.money(int(ctx.conn.execute(_BALANCE, {"patron": patron_id, "account": account}).scalar_one()))


def deposit_taken(ctx: Ctx, patron_id: int) -> Decimal:
    """What the patron has deposited (takes less refunds), the base of percentage deductions."""
    return ctx.money(int(ctx.conn.execute(_DEPOSIT_TAKEN, {"patron": patron_id}).scalar_one()))


def waiting_holds(ctx: Ctx, bib_id: int, item_id: int | None = None) -> list[Row]:
    """The queue for a title (and item-level holds on one copy), oldest first."""
    if item_id is None:
        return list(ctx.conn.execute(_WAITING_FOR_TITLE, {"bib": bib_id}))
    return list(ctx.conn.execute(_WAITING_FOR_ITEM, {"bib": bib_id, "item": item_id}))
