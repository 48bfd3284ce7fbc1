"""Time-based jobs, run daily (or on every `tick` of a simulation).

Each job is idempotent for a given day: running it twice charges, deducts
and notifies nothing twice (deductions remember the days already counted,
notices carry a per-day dedupe key).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from ils_bridge.services import holds as hold_service
from ils_bridge.services.context import Ctx
from ils_bridge.services.ledger import deduct_deposit
from ils_bridge.services.lookup import deposit_taken, due_day
from ils_bridge.storage import schema as s
from policies.decisions import deposit_deduction, overdue_days


def run_jobs(ctx: Ctx) -> dict[str, Any]:
    report: dict[str, Any] = hold_service.expire_holds(ctx)
    report.update(_overdue_loans(ctx))
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
            ctx.notify(loan.patron_id, "overdue", f"overdue:{loan.id}:{ctx.today}", loan_id=loan.id, days=late)
            amount = _deduct_for(ctx, loan, late)
            if amount:
                deducted.append({"loan_id": loan.id, "amount": amount})
        elif soon_days is not None and (due - ctx.today).days == soon_days:
            due_soon += 1
            ctx.notify(loan.patron_id, "due_soon", f"due_soon:{loan.id}:{due}", loan_id=loan.id, due=due.isoformat())
    return {"overdue": overdue, "due_soon": due_soon, "deposit_deductions": deducted}


def _deduct_for(ctx: Ctx, loan: Any, late: int) -> Any:
    decision = deposit_deduction(ctx.policy, deposit_taken(ctx, loan.patron_id), late, loan.deposit_deducted_days)
    if not decision.amount:
        return None
    ctx.conn.execute(update(s.loans).where(s.loans.c.id == loan.id).values(deposit_deducted_days=decision.terms["days"]))
    return deduct_deposit(ctx, loan.patron_id, decision.amount, reason=f"{late} days overdue", rule=decision.rule, loan_id=loan.id)


