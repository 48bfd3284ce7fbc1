"""The fee ledger and deposits: charges, payments, waivers, refunds, deposit movements.

Entries are appended, never edited.  On the ``fees`` account a positive
balance is owed by the patron; on the ``deposit`` account a positive balance
is held for them.  A payment, waiver or credit names the charge it settles
(``applies_to``), so every charge's outstanding amount is its own sum.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, func, select

from ils_bridge.outcome import Refusal
from ils_bridge.reasons import Reason
from ils_bridge.services.context import Ctx
from ils_bridge.services.lookup import balance, find_patron
from ils_bridge.services.notices import amounts
from ils_bridge.storage import schema as s

PAYMENT_TYPES = ("cash", "card", "credit_card", "online", "wechat", "alipay", "transfer", "other")


@dataclass(frozen=True)
class OpenCharge:
    id: int
    fee_type: str
    amount: Decimal
    outstanding: Decimal
    item_id: int | None
    created_at: Any


def open_charges(ctx: Ctx, patron_id: int) -> list[OpenCharge]:
    """Charges not yet settled, oldest first."""
    settled = (
        select(s.ledger_entries.c.applies_to, func.sum(s.ledger_entries.c.amount_minor).label("settled"))
        .where(s.ledger_entries.c.patron_id == patron_id, s.ledger_entries.c.applies_to.is_not(None))
        .group_by(s.ledger_entries.c.applies_to)
        .subquery()
    )
    rows = ctx.conn.execute(
        select(s.ledger_entries, func.coalesce(settled.c.settled, 0).label("settled"))
        .outerjoin(settled, settled.c.applies_to == s.ledger_entries.c.id)
        .where(s.ledger_entries.c.patron_id == patron_id, s.ledger_entries.c.kind == "charge")
        .order_by(s.ledger_entries.c.created_at, s.ledger_entries.c.id)
    )
    charges = []
    for row in rows:
        outstanding = row.amount_minor + row.settled
        if outstanding > 0:
            charges.append(OpenCharge(row.id, row.fee_type, ctx.money(row.amount_minor), ctx.money(outstanding), row.item_id, row.created_at))
    return charges


def _settle(ctx: Ctx, patron_id: int, kind: str, amount: Decimal, target: int | None, **columns: Any) -> list[int]:
    """Spread ``amount`` over the open charges (one named charge, or oldest first)."""
    charges = open_charges(ctx, patron_id)
    if target is not None:
        charges = [c for c in charges if c.id == target]
        if not charges:
            raise Refusal(Reason.UNKNOWN_FEE, f"fee {target} is not an open charge of this patron")
    owed = sum((c.outstanding for c in charges), Decimal(0))
    if owed == 0:
        raise Refusal(Reason.NOTHING_OWED)
    if amount > owed:
        raise Refusal(Reason.OVERPAYMENT, f"{amount} is more than the {owed} owed")
    entries, left = [], amount
    for charge in charges:
        if left == 0:
            break
        part = min(left, charge.outstanding)
        entries.append(ctx.ledger(patron_id, "fees", kind, -ctx.minor(part), applies_to=charge.id, fee_type=charge.fee_type, **columns))
        left -= part
    return entries


def pay(ctx: Ctx, patron: str, amount: object, currency: str | None = None, *, fee_id: int | None = None,
        payment_type: str = "cash") -> dict[str, Any]:
    ref = find_patron(ctx, patron, lock=True)
    if payment_type not in PAYMENT_TYPES:
        raise Refusal(Reason.INVALID_REQUEST, f"unknown payment type {payment_type!r} ({', '.join(PAYMENT_TYPES)})")
    value = ctx.amount(amount, currency)
    entries = _settle(ctx, ref.id, "payment", value, fee_id, payment_type=payment_type)
    return {"rule": "ledger:payment", "patron_id": ref.id, "entries": entries, "paid": value,
            "balance": balance(ctx, ref.id, "fees")}


def waive(ctx: Ctx, patron: str, *, fee_id: int, approver: str, reason: str, amount: object | None = None,
          approvals: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """Waive all or part of a charge; the policy's required approvals must be recorded."""
    ref = find_patron(ctx, patron, lock=True)
    if not (approver or "").strip() or not (reason or "").strip():
        raise Refusal(Reason.APPROVAL_REQUIRED, "a waiver records who approved it and why")
    missing = [a for a in ctx.policy.waiver_approvals if a not in approvals]
    if missing:
        raise Refusal(Reason.APPROVAL_REQUIRED, f"this library's waivers need: {', '.join(missing)}", "waivers:approvals")
    charge = next((c for c in open_charges(ctx, ref.id) if c.id == fee_id), None)
    if charge is None:
        raise Refusal(Reason.UNKNOWN_FEE, f"fee {fee_id} is not an open charge of this patron")
    value = charge.outstanding if amount is None else ctx.amount(amount)
    note = f"{reason} (approvals: {', '.join(approvals)})" if approvals else reason
    entries = _settle(ctx, ref.id, "waiver", value, fee_id, approver=approver, reason=note)
    return {"rule": "waivers:approvals", "patron_id": ref.id, "entries": entries, "waived": value}


def refund(ctx: Ctx, patron: str, amount: object, *, reason: str) -> dict[str, Any]:
    """Pay out money the library owes the patron (a negative fee balance)."""
    ref = find_patron(ctx, patron, lock=True)
    value = ctx.amount(amount)
    owed_to_patron = -balance(ctx, ref.id, "fees")
    if owed_to_patron <= 0:
        raise Refusal(Reason.NO_REFUND, "the library owes this patron nothing")
    if value > owed_to_patron:
        raise Refusal(Reason.OVERPAYMENT, f"{value} is more than the {owed_to_patron} owed to the patron")
    entry = ctx.ledger(ref.id, "fees", "refund", ctx.minor(value), reason=reason)
    return {"rule": "ledger:refund", "patron_id": ref.id, "entries": [entry], "refunded": value}


def credit(ctx: Ctx, patron_id: int, charge: Row | OpenCharge, amount: Decimal, reason: str) -> int:
    """Cancel (part of) a charge, e.g. a lost-item charge when the item is found."""
    return ctx.ledger(patron_id, "fees", "credit", -ctx.minor(amount), applies_to=charge.id, reason=reason,
                      fee_type=charge.fee_type)


def sell(ctx: Ctx, patron_id: int, fee_type: str, amount: Decimal, payment_type: str, **columns: Any) -> None:
    """A fee charged and paid at once at the desk (card fee, service package)."""
    if payment_type not in PAYMENT_TYPES:
        raise Refusal(Reason.INVALID_REQUEST, f"unknown payment type {payment_type!r}")
    charge = ctx.charge(patron_id, fee_type, amount, **columns)
    if charge is not None:
        ctx.ledger(patron_id, "fees", "payment", -ctx.minor(amount), applies_to=charge, fee_type=fee_type, payment_type=payment_type)


# ---------------------------------------------------------------- deposits
def take_deposit(ctx: Ctx, patron: str, amount: object, currency: str | None = None) -> dict[str, Any]:
    ref = find_patron(ctx, patron, lock=True)
    value = ctx.amount(amount, currency)
    entry = ctx.ledger(ref.id, "deposit", "deposit_take", ctx.minor(value))
    return {"rule": "deposits:take", "patron_id": ref.id, "entries": [entry], "deposit": balance(ctx, ref.id, "deposit")}


def refund_deposit(ctx: Ctx, patron: str) -> dict[str, Any]:
    """Return the deposit when the patron ends the service: fees still owed are taken from it first."""
    ref = find_patron(ctx, patron, lock=True)
    loans = ctx.conn.execute(select(func.count()).select_from(s.loans).where(
        s.loans.c.patron_id == ref.id, s.loans.c.status == "active")).scalar_one()
    if loans:
        raise Refusal(Reason.CLEARANCE_FAILED, f"{loans} item(s) still out: return them before the deposit is refunded")
    applied = apply_deposit_to_fees(ctx, ref.id, reason="deposit refund")
    held = balance(ctx, ref.id, "deposit")
    if held <= 0:
        raise Refusal(Reason.NO_REFUND, "no deposit is held")
    entry = ctx.ledger(ref.id, "deposit", "deposit_refund", -ctx.minor(held))
    return {"rule": "deposits:refund", "patron_id": ref.id, "entries": [entry], "refunded": held, "applied_to_fees": applied}


def deduct_deposit(ctx: Ctx, patron_id: int, amount: Decimal, *, reason: str, rule: str, loan_id: int | None = None) -> Decimal:
    """A penalty kept from the deposit (fees still owed stay owed); capped at what is held."""
    held = balance(ctx, patron_id, "deposit")
    taken = min(amount, max(held, Decimal(0)))
    if taken > 0:
        ctx.ledger(patron_id, "deposit", "deduction", -ctx.minor(taken), fee_type="deposit_penalty", reason=reason,
                   rule_id=rule, loan_id=loan_id)
        ctx.notify(patron_id, "deposit_deducted", f"deposit_deducted:{loan_id}:{ctx.today}",
                   **amounts(ctx, taken, balance=held - taken))
    return taken


def apply_deposit_to_fees(ctx: Ctx, patron_id: int, *, reason: str) -> Decimal:
    """Pay outstanding fees from the deposit, as far as it goes."""
    held = balance(ctx, patron_id, "deposit")
    owed = sum((c.outstanding for c in open_charges(ctx, patron_id)), Decimal(0))
    amount = min(held, owed)
    if amount <= 0:
        return Decimal(0)
    ctx.ledger(patron_id, "deposit", "deduction", -ctx.minor(amount), fee_type="applied_to_fees", reason=reason)
    _settle(ctx, patron_id, "deduction", amount, None, reason=reason)
    return amount


def manual_deduction(ctx: Ctx, patron: str, amount: object, *, reason: str) -> dict[str, Any]:
    """Staff apply part of the deposit to what the patron owes."""
    ref = find_patron(ctx, patron, lock=True)
    value = ctx.amount(amount)
    if value > balance(ctx, ref.id, "deposit"):
        raise Refusal(Reason.INSUFFICIENT_DEPOSIT)
    ctx.ledger(ref.id, "deposit", "deduction", -ctx.minor(value), fee_type="applied_to_fees", reason=reason)
    entries = _settle(ctx, ref.id, "deduction", value, None, reason=reason)
    return {"rule": "deposits:deduct", "patron_id": ref.id, "entries": entries, "deducted": value}

