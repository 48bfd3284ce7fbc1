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
from ils_bridge.storage.prepared import Prepared, record_class
from policies.copies import copy_count_cap
from policies.decisions import classify

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


# A patron and the card they used (or their current card), in one round trip; the row is split by ``_patron_ref``.
_CURRENT_CARD_ID = (
    select(s.cards.c.id)
    .where(s.cards.c.patron_id == s.patrons.c.id, s.cards.c.status != "replaced")
    .order_by((s.cards.c.status == "active").desc(), s.cards.c.id.desc())
    .limit(1)
    .correlate(s.patrons)
    .scalar_subquery()
)
_BY_CARD_QUERY = (
    select(s.patrons, s.cards)
    .select_from(s.cards.join(s.patrons, s.patrons.c.id == s.cards.c.patron_id))
    .where(s.cards.c.library_id == bindparam("library"), s.cards.c.number == bindparam("number"))
    .order_by((s.cards.c.status == "replaced").asc(), s.cards.c.id.desc())  # a live card first, then a replaced one
    .limit(1)
)
_BY_NUMBER_QUERY = (
    select(s.patrons, s.cards)
    .select_from(s.patrons.outerjoin(s.cards, s.cards.c.id == _CURRENT_CARD_ID))
    .where(s.patrons.c.library_id == bindparam("library"), s.patrons.c.number == bindparam("number"))
)
_PATRON_BY_CARD = Prepared(_BY_CARD_QUERY)
_PATRON_BY_NUMBER = Prepared(_BY_NUMBER_QUERY)
_PATRON_BY_CARD_LOCKED = Prepared(_BY_CARD_QUERY.with_for_update(of=s.patrons))
_PATRON_BY_NUMBER_LOCKED = Prepared(_BY_NUMBER_QUERY.with_for_update(of=s.patrons))
_PatronRecord = record_class([column.key for column in s.patrons.c])
_CardRecord = record_class([column.key for column in s.cards.c])
_PATRON_COLUMNS = len(s.patrons.c)


def _patron_ref(row: Any) -> PatronRef:
    card = row[_PATRON_COLUMNS:]
    return PatronRef(_PatronRecord(*row[:_PATRON_COLUMNS]), None if card[0] is None else _CardRecord(*card))


def find_patron(ctx: Ctx, identifier: str, *, lock: bool = False) -> PatronRef:
    """By card number (a live card first, then a replaced one) or by patron number (with the current card)."""
    identifier = (identifier or "").strip()
    if not identifier:
        raise Refusal(Reason.UNKNOWN_PATRON, "no patron identifier was given")
    locked = lock and ctx.lock_rows
    params = {"library": ctx.library.id, "number": identifier}
    row = (_PATRON_BY_CARD_LOCKED if locked else _PATRON_BY_CARD).first(ctx.conn, params)
    if row is None:
        row = (_PATRON_BY_NUMBER_LOCKED if locked else _PATRON_BY_NUMBER).first(ctx.conn, params)
    if row is None:
        raise Refusal(Reason.UNKNOWN_PATRON, f"no patron has the number or card {identifier!r}")
    return _patron_ref(row)


_CURRENT_CARD = Prepared(
    select(s.cards)
    .where(s.cards.c.patron_id == bindparam("patron"), s.cards.c.status != "replaced")
    .order_by((s.cards.c.status == "active").desc(), s.cards.c.id.desc())
    .limit(1)
)


def current_card(ctx: Ctx, patron_id: int) -> Row | None:
    return _CURRENT_CARD.first(ctx.conn, {"patron": patron_id})


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


_ACTIVE_PACKAGE = Prepared(
    select(s.package_purchases.c.package)
    .where(s.package_purchases.c.patron_id == bindparam("patron"), s.package_purchases.c.valid_until >= bindparam("today"))
    .order_by(s.package_purchases.c.bought_at.desc())
    .limit(1)
)


def active_package(ctx: Ctx, patron_id: int) -> str | None:
    return _ACTIVE_PACKAGE.scalar(ctx.conn, {"patron": patron_id, "today": ctx.today})


def patron_facts(ctx: Ctx, ref: PatronRef) -> dict[str, Any]:
    return facts_of_patron(ref, active_package(ctx, ref.id))


def facts_of_patron(ref: PatronRef, package: str | None) -> dict[str, Any]:
    """The patron as rules match them, given the active package (None: none)."""
    return {
        "patron_type": ref.row.patron_type,
        "patron_group": ref.row.patron_group,
        "package": package,
        "card_kind": ref.card.kind if ref.card is not None else None,
    }


_ITEM_BY_BARCODE_QUERY = select(s.items).where(
    s.items.c.library_id == bindparam("library"), s.items.c.barcode == bindparam("barcode"))
_ITEM_BY_BARCODE = Prepared(_ITEM_BY_BARCODE_QUERY)
_ITEM_BY_BARCODE_LOCKED = Prepared(_ITEM_BY_BARCODE_QUERY.with_for_update())
_COPIES = Prepared(
    select(func.count()).select_from(s.items)
    .where(s.items.c.bib_id == bindparam("bib"), s.items.c.status.not_in(("withdrawn", "lost")))
)


def find_item(ctx: Ctx, barcode: str, *, lock: bool = False) -> Row:
    query = _ITEM_BY_BARCODE_LOCKED if lock and ctx.lock_rows else _ITEM_BY_BARCODE
    item = query.first(ctx.conn, {"library": ctx.library.id, "barcode": (barcode or "").strip()})
    if item is None:
        raise Refusal(Reason.UNKNOWN_ITEM, f"no item has the barcode {barcode!r}")
    return item


# An item with its active loan (if any), the copies of its title and the holds waiting for it, in one round trip:
# what checkout and checkin start from.  The row is split by ``item_state``.
# Correlated with the ``items`` row of the enclosing query: the usable copies of its title, counted no further
# than ``copies_cap`` (see policies/copies.py: the decisions come out the same, and a title with hundreds of
# copies costs no more to lend than one with three), and the holds waiting for the title.
_OTHER_COPY = s.items.alias("other_copy")
_USABLE_OTHER_COPIES = (
    select(_OTHER_COPY.c.id)
    .where(_OTHER_COPY.c.bib_id == s.items.c.bib_id, _OTHER_COPY.c.status.not_in(("withdrawn", "lost")))
    .correlate(s.items)
    .limit(bindparam("copies_cap"))
    .subquery("usable_copy")
)
COPIES_OF_ITEM_TITLE_UP_TO_CAP = select(func.count()).select_from(_USABLE_OTHER_COPIES).scalar_subquery()
HOLDS_WAITING_FOR_ITEM_TITLE = (
    select(func.count()).select_from(s.holds)
    .where(s.holds.c.bib_id == s.items.c.bib_id, s.holds.c.status == "waiting")
    .correlate(s.items)
    .scalar_subquery()
)
_ITEM_STATE_QUERY = (
    select(s.items, s.loans, COPIES_OF_ITEM_TITLE_UP_TO_CAP, HOLDS_WAITING_FOR_ITEM_TITLE)
    .select_from(s.items.outerjoin(s.loans, (s.loans.c.item_id == s.items.c.id) & (s.loans.c.status == "active")))
    .where(s.items.c.library_id == bindparam("library"), s.items.c.barcode == bindparam("barcode"))
)
_ITEM_STATE = Prepared(_ITEM_STATE_QUERY)
_ItemRecord = record_class([column.key for column in s.items.c])
_LoanRecord = record_class([column.key for column in s.loans.c])
_ITEM_COLUMNS, _LOAN_COLUMNS = len(s.items.c), len(s.loans.c)


@dataclass(frozen=True)
class ItemState:
    """An item, its active loan (None when on the shelf), how many usable copies its title has (counted up to
    the policy's copy-count cap: enough for every decision, see policies/copies.py) and how many holds wait
    for the title."""

    item: Row
    loan: Row | None
    copies: int
    holds_waiting: int


def item_state(ctx: Ctx, barcode: str, *, lock: bool = False) -> ItemState:
    params = {"library": ctx.library.id, "barcode": (barcode or "").strip()}
    if lock and ctx.lock_rows:
        # Lock, then read in a statement of its own: under READ COMMITTED a statement that waited for the lock
        # still sees the loans as they were when it began, and would miss the loan the lock holder just made.
        _ITEM_BY_BARCODE_LOCKED.first(ctx.conn, params)
    row = _ITEM_STATE.first(ctx.conn, {**params, "copies_cap": copy_count_cap(ctx.policy)})
    if row is None:
        raise Refusal(Reason.UNKNOWN_ITEM, f"no item has the barcode {barcode!r}")
    loan = row[_ITEM_COLUMNS:_ITEM_COLUMNS + _LOAN_COLUMNS]
    return ItemState(_ItemRecord(*row[:_ITEM_COLUMNS]), None if loan[0] is None else _LoanRecord(*loan), row[-2], row[-1])


def copies_of(ctx: Ctx, bib_id: int) -> int:
    """Copies the library holds of a title (all stacks; withdrawn and lost copies do not count)."""
    return _COPIES.scalar(ctx.conn, {"bib": bib_id})


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


_ACTIVE_LOAN_OF_ITEM = Prepared(select(s.loans).where(s.loans.c.item_id == bindparam("item"), s.loans.c.status == "active"))
_ACTIVE_LOANS_WITH_ITEMS = Prepared(
    select(s.loans, s.items.c.barcode, s.items.c.price_minor, s.items.c.bib_id, s.items.c.material,
           s.items.c.collection, s.items.c.language, s.items.c.classification, s.items.c.branch,
           s.items.c.location, s.items.c.pub_year, s.items.c.closed_stack)
    .join(s.items, s.items.c.id == s.loans.c.item_id)
    .where(s.loans.c.patron_id == bindparam("patron"), s.loans.c.status == "active")
    .order_by(s.loans.c.due_at)
)


def active_loan_of_item(ctx: Ctx, item_id: int) -> Row | None:
    return _ACTIVE_LOAN_OF_ITEM.first(ctx.conn, {"item": item_id})


def active_loans_with_items(ctx: Ctx, patron_id: int) -> list[Row]:
    return _ACTIVE_LOANS_WITH_ITEMS.all(ctx.conn, {"patron": patron_id})


def loan_item_facts(ctx: Ctx, loan: Row) -> dict[str, Any]:
    """Facts of a loaned item as limits count them (copies do not matter there)."""
    return classify(ctx.policy, {
        "material": loan.material, "collection": loan.collection, "language": loan.language,
        "classification": loan.classification, "branch": loan.branch, "location": loan.location,
        "pub_year": loan.pub_year, "closed_stack": loan.closed_stack,
    })


def due_day(ctx: Ctx, loan: Row) -> dt.date:
    return ctx.calendar.local_date(loan.due_at)


_BALANCE = Prepared(
    select(func.coalesce(func.sum(s.ledger_entries.c.amount_minor), 0))
    .where(s.ledger_entries.c.patron_id == bindparam("patron"), s.ledger_entries.c.account == bindparam("account"))
)
_DEPOSIT_TAKEN = Prepared(
    select(func.coalesce(func.sum(s.ledger_entries.c.amount_minor), 0)).where(
        s.ledger_entries.c.patron_id == bindparam("patron"),
        s.ledger_entries.c.account == "deposit",
        s.ledger_entries.c.kind.in_(("deposit_take", "deposit_refund")),
    )
)
_WAITING_FOR_TITLE = Prepared(
    select(s.holds).where(s.holds.c.bib_id == bindparam("bib"), s.holds.c.status == "waiting")
    .order_by(s.holds.c.placed_at, s.holds.c.id)
)
_WAITING_FOR_ITEM = Prepared(
    select(s.holds)
    .where(s.holds.c.bib_id == bindparam("bib"), s.holds.c.status == "waiting",
           or_(s.holds.c.item_id.is_(None), s.holds.c.item_id == bindparam("item")))
    .order_by(s.holds.c.placed_at, s.holds.c.id)
)


def _balance_of(account: str) -> Any:
    return select(func.coalesce(func.sum(s.ledger_entries.c.amount_minor), 0)).where(
        s.ledger_entries.c.patron_id == bindparam("patron"), s.ledger_entries.c.account == account).scalar_subquery()


# What a borrowing decision needs of the patron's money, in one round trip.
_STANDING = Prepared(select(_ACTIVE_PACKAGE.statement.scalar_subquery(), _balance_of("fees"), _balance_of("deposit")))


@dataclass(frozen=True)
class Standing:
    package: str | None
    fees_owed: Decimal
    deposit: Decimal


def standing(ctx: Ctx, patron_id: int) -> Standing:
    """The patron's active package and the balances of both accounts."""
    package, fees, deposit = _STANDING.first(ctx.conn, {"patron": patron_id, "today": ctx.today})
    return Standing(package, ctx.money(int(fees)), ctx.money(int(deposit)))


def balance(ctx: Ctx, patron_id: int, account: str) -> Decimal:
    return ctx.money(int(_BALANCE.scalar(ctx.conn, {"patron": patron_id, "account": account})))


def deposit_taken(ctx: Ctx, patron_id: int) -> Decimal:
    """What the patron has deposited (takes less refunds), the base of percentage deductions."""
    return ctx.money(int(_DEPOSIT_TAKEN.scalar(ctx.conn, {"patron": patron_id})))


def waiting_holds(ctx: Ctx, bib_id: int, item_id: int | None = None) -> list[Row]:
    """The queue for a title (and item-level holds on one copy), oldest first."""
    if item_id is None:
        return _WAITING_FOR_TITLE.all(ctx.conn, {"bib": bib_id})
    return _WAITING_FOR_ITEM.all(ctx.conn, {"bib": bib_id, "item": item_id})
