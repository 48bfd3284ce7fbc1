"""Time-based jobs, run daily (or on every `tick` of a simulation).

Each job is idempotent for a given day: running it twice charges, deducts
and notifies nothing twice (deductions remember the days already counted,
notices carry a per-day dedupe key).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update

from ils_bridge.services import holds as hold_service
from ils_bridge.services.context import Ctx
from ils_bridge.services.ledger import deduct_deposit
from ils_bridge.services.lookup import deposit_taken, due_day
from ils_bridge.services.notices import about_loan
from ils_bridge.storage import schema as s
from policies.decisions import deposit_deduction, overdue_days


def run_jobs(ctx: Ctx) -> dict[str, Any]:
    report: dict[str, Any] = hold_service.expire_holds(ctx)
    report.update(_overdue_loans(ctx))
    report.update(_expiring_cards(ctx))
    return report


def _overdue_loans(ctx: Ctx) -> dict[str, Any]:
    """Overdue and due-soon notices, and deposit deductions for long-overdue loans."""
    deducted, overdue, due_soon = [], 0, 0
    soon_days = ctx.policy.notices.get("due_soon_days")
    loans = ctx.conn.execute(select(s.loans).where(s.loans.c.library_id == ctx.library.id, s.loans.c.status == "active"))
    for loan in loans:
        due = due_day(ctx, loan)
        late = overdue_days(due, ctx.today)
        if late:
            overdue += 1
            ctx.notify(loan.patron_id, "overdue", f"overdue:{loan.id}:{ctx.today}", loan_id=loan.id,
                       days_overdue=late, **about_loan(ctx, loan.item_id, loan.due_at))
            amount = _deduct_for(ctx, loan, late)
            if amount:
                deducted.append({"loan_id": loan.id, "amount": amount})
        elif soon_days is not None and (due - ctx.today).days == soon_days:
            due_soon += 1
            ctx.notify(loan.patron_id, "due_soon", f"due_soon:{loan.id}:{due}", loan_id=loan.id,
                       **about_loan(ctx, loan.item_id, loan.due_at))
    return {"overdue": overdue, "due_soon": due_soon, "deposit_deductions": deducted}


def _expiring_cards(ctx: Ctx) -> dict[str, int]:
    """Card-expiry notices from ``notices.card_expiring_days`` ahead: once per card and validity date."""
    days = ctx.policy.notices.get("card_expiring_days")
    if days is None:
        return {"card_expiring": 0}
    cards = ctx.conn.execute(
        select(s.cards.c.id, s.cards.c.patron_id, s.cards.c.number, s.cards.c.valid_until)
        .join(s.patrons, s.patrons.c.id == s.cards.c.patron_id)
        .where(s.cards.c.library_id == ctx.library.id, s.cards.c.status == "active", s.patrons.c.status == "active",
               s.cards.c.valid_until.between(ctx.today, ctx.today + dt.timedelta(days=days)))).all()
    for card in cards:
        ctx.notify(card.patron_id, "card_expiring", f"card_expiring:{card.id}:{card.valid_until}",
                   card_number=card.number, valid_until=card.valid_until.isoformat())
    return {"card_expiring": len(cards)}


def _deduct_for(ctx: Ctx, loan: Any, late: int) -> Any:
    decision = deposit_deduction(ctx.policy, deposit_taken(ctx, loan.patron_id), late, loan.deposit_deducted_days)
    if not decision.amount:
        return None
    ctx.conn.execute(update(s.loans).where(s.loans.c.id == loan.id).values(deposit_deducted_days=decision.terms["days"]))
    return deduct_deposit(ctx, loan.patron_id, decision.amount, reason=f"{late} days overdue", rule=decision.rule, loan_id=loan.id)


