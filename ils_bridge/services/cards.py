"""Library cards: issue with fee, renew, report lost, replace (keeping history), group cards."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update

from ils_bridge.outcome import Refusal
from ils_bridge.reasons import Reason
from ils_bridge.services.context import Ctx
from ils_bridge.services.ledger import sell
from ils_bridge.services.lookup import find_patron
from ils_bridge.storage import schema as s
from policies.model import CardKind


def _kind(ctx: Ctx, kind: str | None) -> CardKind:
    kinds = ctx.policy.cards.kinds
    if kind is None:
        return next(iter(kinds.values()))
    if kind not in kinds:
        raise Refusal(Reason.INVALID_REQUEST, f"{kind!r} is not a card kind here ({', '.join(kinds)})")
    return kinds[kind]


def _validity(ctx: Ctx, kind: CardKind, valid_until: dt.date | None, start: dt.date) -> dt.date | None:
    if valid_until is not None:
        if valid_until < ctx.today:
            raise Refusal(Reason.INVALID_REQUEST, f"the card would expire in the past ({valid_until})")
        return valid_until
    if kind.validity_days is None:
        raise Refusal(Reason.INVALID_REQUEST, f"{kind.kind} cards are valid until a date staff set: give valid_until")
    return start + dt.timedelta(days=kind.validity_days)


def _number_in_use(ctx: Ctx, number: str) -> bool:
    return ctx.conn.execute(select(s.cards.c.id).where(
        s.cards.c.library_id == ctx.library.id, s.cards.c.number == number, s.cards.c.status != "replaced")).first() is not None


def issue_card(ctx: Ctx, patron: str, number: str, *, kind: str | None = None, valid_until: dt.date | None = None,
               payment_type: str = "cash") -> dict[str, Any]:
    ref = find_patron(ctx, patron, lock=True)
    card_kind = _kind(ctx, kind)
    number = (number or "").strip()
    if not number:
        raise Refusal(Reason.INVALID_REQUEST, "a card needs a number")
    if _number_in_use(ctx, number):
        raise Refusal(Reason.DUPLICATE, f"card number {number} is in use")
    until = _validity(ctx, card_kind, valid_until, ctx.today)
    card_id = ctx.conn.execute(insert(s.cards).values(
        library_id=ctx.library.id, patron_id=ref.id, number=number, kind=card_kind.kind, status="active",
        issued_at=ctx.now, valid_until=until, status_changed_at=ctx.now)).inserted_primary_key[0]
    sell(ctx, ref.id, "card", card_kind.fee, payment_type, reason=f"{card_kind.kind} card {number}")
    return {"rule": f"cards:{card_kind.kind}", "patron_id": ref.id, "card_id": card_id, "valid_until": until}


def issue_group_card(ctx: Ctx, organisation: str, number: str, *, members: int, approver: str | None = None,
                     payment_type: str = "transfer") -> dict[str, Any]:
    """An organisation's card; the policy's discount for small groups needs the named approval."""
    group = ctx.policy.cards.group
    if group is None:
        raise Refusal(Reason.NOT_PERMITTED, "this library issues no group cards")
    if members < 1:
        raise Refusal(Reason.INVALID_REQUEST, "a group card has at least one member")
    ref = find_patron(ctx, organisation, lock=True)
    if _number_in_use(ctx, number):
        raise Refusal(Reason.DUPLICATE, f"card number {number} is in use")
    fee, rule = group.fee_per_unit, "cards:group"
    if group.discount_members_below is not None and members < group.discount_members_below:
        if group.discount_approval and not (approver or "").strip():
            raise Refusal(Reason.APPROVAL_REQUIRED, f"the small-group discount needs the {group.discount_approval}'s approval",
                          "cards:group.discount")
        fee = fee * (100 - group.discount_percent) / 100
        rule = "cards:group.discount"
    card_id = ctx.conn.execute(insert(s.cards).values(
        library_id=ctx.library.id, patron_id=ref.id, number=number, kind="group", status="active", issued_at=ctx.now,
        valid_until=ctx.today + dt.timedelta(days=group.validity_days), status_changed_at=ctx.now,
        note=f"{members} members; approved by {approver}" if approver else f"{members} members")).inserted_primary_key[0]
    sell(ctx, ref.id, "card", ctx.money(ctx.minor(fee.quantize(ctx.currency.quantum))), payment_type, approver=approver)
    return {"rule": rule, "patron_id": ref.id, "card_id": card_id}


def renew_card(ctx: Ctx, card: str, *, valid_until: dt.date | None = None, payment_type: str = "cash") -> dict[str, Any]:
    row = _card(ctx, card)
    kind = _kind(ctx, row.kind) if row.kind in ctx.policy.cards.kinds else None
    if kind is None:
        raise Refusal(Reason.INVALID_REQUEST, f"{row.kind} cards are renewed by issuing a new group card")
    start = max(ctx.today, row.valid_until or ctx.today)
    until = _validity(ctx, kind, valid_until, start)
    status = "active" if row.status == "expired" else row.status
    ctx.conn.execute(update(s.cards).where(s.cards.c.id == row.id).values(valid_until=until, status=status, status_changed_at=ctx.now))
    sell(ctx, row.patron_id, "card", kind.fee, payment_type, reason=f"renewal of card {row.number}")
    return {"rule": f"cards:{kind.kind}", "patron_id": row.patron_id, "card_id": row.id, "valid_until": until}


def report_card_lost(ctx: Ctx, card: str) -> dict[str, Any]:
    """Blocked at once: nobody can borrow on it from now on."""
    row = _card(ctx, card)
    if row.status != "active":
        raise Refusal(Reason.INVALID_STATE, f"the card is {row.status}")
    ctx.conn.execute(update(s.cards).where(s.cards.c.id == row.id).values(status="lost", status_changed_at=ctx.now))
    return {"rule": "cards:lost", "patron_id": row.patron_id, "card_id": row.id}


def replace_card(ctx: Ctx, card: str, *, new_number: str | None = None, payment_type: str = "cash") -> dict[str, Any]:
    """A new card for a lost or damaged one: same number or a new one, as the policy says; history kept."""
    row = _card(ctx, card)
    if row.status == "replaced":
        raise Refusal(Reason.CARD_REPLACED)
    same = ctx.policy.cards.replacement == "same_number"
    if same and new_number not in (None, row.number):
        raise Refusal(Reason.NOT_PERMITTED, "this library's replacement card keeps the same number", "cards:replacement")
    if not same and not new_number:
        raise Refusal(Reason.INVALID_REQUEST, "this library re-issues a lost card as a new card: give the new number")
    number = row.number if same else new_number
    if not same and _number_in_use(ctx, number):
        raise Refusal(Reason.DUPLICATE, f"card number {number} is in use")
    ctx.conn.execute(update(s.cards).where(s.cards.c.id == row.id).values(status="replaced", status_changed_at=ctx.now))
    card_id = ctx.conn.execute(insert(s.cards).values(
        library_id=ctx.library.id, patron_id=row.patron_id, number=number, kind=row.kind, status="active",
        issued_at=ctx.now, valid_until=row.valid_until, replaces_card_id=row.id, status_changed_at=ctx.now,
    )).inserted_primary_key[0]
    sell(ctx, row.patron_id, "card", ctx.policy.cards.replacement_fee, payment_type, reason=f"replacement of card {row.number}")
    return {"rule": "cards:replacement", "patron_id": row.patron_id, "card_id": card_id, "number": number}


def _card(ctx: Ctx, number: str) -> Any:
    """The card with this number (the live one if the number was kept through replacements)."""
    row = ctx.conn.execute(
        select(s.cards).where(s.cards.c.library_id == ctx.library.id, s.cards.c.number == (number or "").strip())
        .order_by((s.cards.c.status == "replaced").asc(), s.cards.c.id.desc()).limit(1)
    ).first()
    if row is None:
        raise Refusal(Reason.UNKNOWN_PATRON, f"no card has the number {number!r}")
    return row


def card_history(ctx: Ctx, patron_id: int) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in ctx.conn.execute(
        select(s.cards).where(s.cards.c.patron_id == patron_id).order_by(s.cards.c.id))]


def buy_package(ctx: Ctx, patron: str, code: str, *, payment_type: str = "cash") -> dict[str, Any]:
    """A yearly service package (home-loan entitlement with its own limits)."""
    package = ctx.policy.packages.get(code)
    if package is None:
        raise Refusal(Reason.INVALID_REQUEST, f"{code!r} is not a package here ({', '.join(ctx.policy.packages) or 'none'})")
    ref = find_patron(ctx, patron, lock=True)
    until = ctx.today + dt.timedelta(days=package.valid_days)
    ctx.conn.execute(insert(s.package_purchases).values(
        library_id=ctx.library.id, patron_id=ref.id, package=code, bought_at=ctx.now, valid_until=until))
    sell(ctx, ref.id, "package", package.price, payment_type, reason=f"package {code}")
    return {"rule": f"packages:{code}", "patron_id": ref.id, "valid_until": until, "price": Decimal(package.price)}
