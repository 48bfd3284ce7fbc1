"""Lost, found, damaged and stolen items, and what they cost."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Sequence

from sqlalchemy import Row, select, update

from ils_bridge.outcome import Refusal
from ils_bridge.reasons import Reason
from ils_bridge.services import holds as hold_service
from ils_bridge.services.context import Ctx
from ils_bridge.services.ledger import credit
from ils_bridge.services.lookup import copies_of, due_day, find_item, find_patron, item_facts
from ils_bridge.services.notices import notify_charges
from ils_bridge.storage import schema as s
from policies.decisions import LostItem, damage_charge, lost_charges, overdue_fine, theft_charge


def _lost_item(ctx: Ctx, item: Row) -> LostItem:
    return LostItem(
        facts=item_facts(ctx, item), price=ctx.money(item.price_minor), replacement_value=ctx.money(item.replacement_value_minor),
        volumes_in_set=item.volumes_in_set, set_price=ctx.money(item.set_price_minor), important_work=item.important_work,
    )


def report_lost(ctx: Ctx, item: str, *, multiple: Decimal | None = None, processing_fee: object | None = None,
                replaced_by_copy: bool = False) -> dict[str, Any]:
    """The borrower reports a loaned item lost: close the loan and charge what the policy says."""
    row = find_item(ctx, item, lock=True)
    if row.status == "lost":
        raise Refusal(Reason.ALREADY_LOST)
    loan = ctx.conn.execute(select(s.loans).where(s.loans.c.item_id == row.id, s.loans.c.status == "active")).first()
    if loan is None:
        raise Refusal(Reason.ITEM_NOT_CHECKED_OUT, "only an item on loan can be reported lost by its borrower")
    fee = None if processing_fee is None else ctx.amount(processing_fee, allow_zero=True)
    decision = lost_charges(ctx.policy, _lost_item(ctx, row), first_reader=loan.first_reader,
                            replaced_by_copy=replaced_by_copy, multiple=multiple, processing_fee=fee)
    if not decision.ok:
        raise Refusal(decision.reason, decision.steps[-1].detail, decision.rule)
    for fee_type, amount, rule in decision.terms["charges"]:
        ctx.charge(loan.patron_id, fee_type, amount, loan_id=loan.id, item_id=row.id, rule_id=rule,
                   reason="replaced by an identical copy" if replaced_by_copy else None)
    if ctx.policy.lost.include_overdue_fine:
        fine = overdue_fine(ctx.policy, ctx.calendar, loan.terms, due_day(ctx, loan), ctx.today)
        if fine.amount:
            ctx.charge(loan.patron_id, "overdue", fine.amount, loan_id=loan.id, item_id=row.id, rule_id=fine.rule)
    notify_charges(ctx, loan.patron_id, "lost", item_id=row.id)
    ctx.conn.execute(update(s.loans).where(s.loans.c.id == loan.id).values(status="lost", returned_at=ctx.now))
    ctx.conn.execute(update(s.items).where(s.items.c.id == row.id).values(
        status="withdrawn" if replaced_by_copy else "lost", updated_at=ctx.now))
    return {"rule": decision.rule, "patron_id": loan.patron_id, "item_id": row.id, "loan_id": loan.id}


def found(ctx: Ctx, item: str) -> dict[str, Any]:
    """A lost item comes back: cancel what is unpaid; refund what was paid within the window, less the fee."""
    row = find_item(ctx, item, lock=True)
    if row.status != "lost":
        raise Refusal(Reason.NOT_LOST)
    loan = ctx.conn.execute(select(s.loans).where(s.loans.c.item_id == row.id, s.loans.c.status == "lost")
                            .order_by(s.loans.c.id.desc())).first()
    lost = ctx.policy.lost
    refunded, cancelled, rule = Decimal(0), Decimal(0), "lost:found"
    if loan is not None:
        for charge, paid, outstanding, last_paid in _lost_charge_state(ctx, loan):
            if outstanding:
                credit(ctx, loan.patron_id, charge, outstanding, "item found: unpaid charge cancelled")
                cancelled += outstanding
            if paid:
                window = lost.refund_within_days
                if window is None or (ctx.today - ctx.calendar.local_date(last_paid)).days > window:
                    rule = "lost:refund_window"
                    continue
                credit(ctx, loan.patron_id, charge, paid, "item found within the refund period")
                refunded += paid
        if refunded:
            ctx.charge(loan.patron_id, "processing", lost.refund_fee, item_id=row.id, rule_id="lost:refund_fee")
            rule = "lost:refund"
    hold = hold_service.trap(ctx, row)
    owed_back = max(refunded - lost.refund_fee, Decimal(0)) if refunded else Decimal(0)
    return {"rule": rule, "item_id": row.id, "title_id": row.bib_id, "patron_id": loan.patron_id if loan else None,
            "cancelled": cancelled, "refund_due": owed_back, "hold": hold}


def _lost_charge_state(ctx: Ctx, loan: Row) -> list[tuple[Row, Decimal, Decimal, dt.datetime | None]]:
    """Each lost-item charge of the loan: (charge, paid, still outstanding, when last paid)."""
    charges = list(ctx.conn.execute(select(s.ledger_entries).where(
        s.ledger_entries.c.loan_id == loan.id, s.ledger_entries.c.kind == "charge", s.ledger_entries.c.fee_type == "lost")))
    result = []
    for charge in charges:
        settlements = list(ctx.conn.execute(select(s.ledger_entries).where(s.ledger_entries.c.applies_to == charge.id)))
        paid = -sum(e.amount_minor for e in settlements if e.kind in ("payment", "deduction"))
        other = -sum(e.amount_minor for e in settlements if e.kind not in ("payment", "deduction"))
        last_paid = max((e.created_at for e in settlements if e.kind in ("payment", "deduction")), default=None)
        result.append((charge, ctx.money(paid), ctx.money(charge.amount_minor - paid - other), last_paid))
    return result


def charge_damage(ctx: Ctx, item: str, kind: str, *, patron: str | None = None, units: int = 1, cleanable: bool = False,
                  binding: str | None = None, extra: object | None = None) -> dict[str, Any]:
    """Charge for damage found on return (to the last borrower unless a patron is named)."""
    row = find_item(ctx, item)
    patron_id = _responsible_patron(ctx, row, patron)
    decision = damage_charge(ctx.policy, item_facts(ctx, row), ctx.money(row.price_minor), kind, units=units,
                             cleanable=cleanable, binding=binding,
                             extra=ctx.amount(extra, allow_zero=True) if extra is not None else Decimal(0))
    if not decision.ok:
        raise Refusal(decision.reason, decision.steps[-1].detail, decision.rule)
    fee_type = "barcode" if kind == "barcode" else "damage"
    ctx.charge(patron_id, fee_type, decision.amount, item_id=row.id, rule_id=decision.rule)
    notify_charges(ctx, patron_id, fee_type, item_id=row.id)
    return {"rule": decision.rule, "patron_id": patron_id, "item_id": row.id}


def charge_theft(ctx: Ctx, patron: str, items: Sequence[str]) -> dict[str, Any]:
    """The theft fine for items carried out unissued (the gate alarm's case)."""
    ref = find_patron(ctx, patron, lock=True)
    rows = [find_item(ctx, barcode) for barcode in items]
    if not rows:
        raise Refusal(Reason.INVALID_REQUEST, "name the items involved")
    decision = theft_charge(ctx.policy, [(item_facts(ctx, r, copies_of(ctx, r.bib_id)), ctx.money(r.price_minor)) for r in rows])
    if not decision.ok:
        raise Refusal(decision.reason, decision.steps[-1].detail, decision.rule)
    ctx.charge(ref.id, "theft", decision.amount, rule_id=decision.rule, reason=", ".join(items))
    notify_charges(ctx, ref.id, "theft")
    return {"rule": decision.rule, "patron_id": ref.id, "steps": [st.detail for st in decision.steps]}


def _responsible_patron(ctx: Ctx, item: Row, patron: str | None) -> int:
    if patron:
        return find_patron(ctx, patron).id
    last = ctx.conn.execute(select(s.loans.c.patron_id).where(s.loans.c.item_id == item.id)
                            .order_by(s.loans.c.checked_out_at.desc()).limit(1)).scalar()
    if last is None:
        raise Refusal(Reason.INVALID_REQUEST, "the item has never been lent: name the patron to charge")
    return last
