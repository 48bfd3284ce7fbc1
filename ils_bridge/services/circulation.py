"""Checkout, checkin and renewal."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Row, bindparam, insert, select, update

from ils_bridge.outcome import Refusal
from ils_bridge.reasons import Reason
from ils_bridge.services import holds as hold_service
from ils_bridge.services.context import Ctx
from ils_bridge.services.losses import found
from ils_bridge.services.lookup import (
    ItemState,
    PatronRef,
    active_loan_of_item,
    active_loans_with_items,
    balance,
    due_day,
    facts_of_patron,
    find_item,
    find_patron,
    item_facts,
    item_state,
    loan_item_facts,
    patron_facts,
    patron_standing_refusal,
    require_standing,
    standing,
    waiting_holds,
)
from ils_bridge.services.notices import about_item, amounts
from ils_bridge.storage import schema as s
from ils_bridge.storage.prepared import Prepared
from policies.decisions import (
    Account,
    CurrentLoan,
    Decision,
    RenewalFacts,
    decide_checkout,
    decide_renewal,
    offline_loan,
    overdue_fine,
)

UNAVAILABLE_STATUSES = ("lost", "missing", "withdrawn", "in_transit")

_LOAN_COLUMNS = ("library_id", "item_id", "patron_id", "card_id", "checked_out_at", "due_at", "status", "renewals",
                 "first_reader", "policy_version", "rule_id", "terms", "terminal")
_INSERT_LOAN = Prepared(insert(s.loans).values({name: bindparam(name) for name in _LOAN_COLUMNS}))
_LEND_ITEM = Prepared(update(s.items).where(s.items.c.id == bindparam("item")).values(
    status="checked_out", times_loaned=s.items.c.times_loaned + 1, updated_at=bindparam("now")))
_RETURN_LOAN = Prepared(update(s.loans).where(s.loans.c.id == bindparam("loan")).values(
    status="returned", returned_at=bindparam("returned")))
_LOCK_PATRON = Prepared(select(s.patrons.c.id).where(s.patrons.c.id == bindparam("patron")).with_for_update())


def account_of(ctx: Ctx, ref: PatronRef) -> Account:
    """The patron's standing as limits and borrowing blocks see it."""
    loans = active_loans_with_items(ctx, ref.id)
    money = standing(ctx, ref.id)
    return Account(
        patron=facts_of_patron(ref, money.package),
        loans=[CurrentLoan(loan_item_facts(ctx, loan), ctx.money(loan.price_minor)) for loan in loans],
        fines_owed=money.fees_owed,
        overdue_items=sum(1 for loan in loans if due_day(ctx, loan) < ctx.today),
        deposit=money.deposit,
    )


def renewal_facts(ctx: Ctx, ref: PatronRef, item: Row, loan: Row) -> RenewalFacts:
    """What a renewal decision needs: the loan's own terms and today's situation."""
    return RenewalFacts(
        terms=loan.terms, rule=loan.rule_id, renewals_done=loan.renewals, due=due_day(ctx, loan),
        on_hold=any(h.patron_id != ref.id for h in waiting_holds(ctx, item.bib_id, item.id)),
        fines_owed=balance(ctx, ref.id, "fees"), card_expired=patron_standing_refusal(ctx, ref) is not None,
        recalled=loan.recalled_at is not None,
    )


def checkout(ctx: Ctx, patron: str, item: str, *, renew_if_own: bool = False, no_block: bool = False) -> dict[str, Any]:
    """Lend an item.  ``no_block``: an offline transaction the terminal already made (the item has left the
    building), so it is recorded even where the policy would refuse; the refusal is kept in the outcome."""
    ref = find_patron(ctx, patron, lock=True)
    if not no_block:
        require_standing(ctx, ref)
    state = item_state(ctx, item, lock=True)
    row, current = state.item, state.loan
    if current is not None:
        if current.patron_id == ref.id and renew_if_own:
            return renew_loan(ctx, ref, row, current)
        if not no_block or current.patron_id == ref.id:
            raise Refusal(Reason.ITEM_CHECKED_OUT, "you already have this item" if current.patron_id == ref.id else None)
        close_loan(ctx, current, row, ctx.now)  # it was returned without being checked in
    if row.status in UNAVAILABLE_STATUSES and not no_block:
        raise Refusal(Reason.ITEM_UNAVAILABLE, f"the item is {row.status.replace('_', ' ')}")
    trapped = hold_service.trapped_hold(ctx, row.id) if row.status == "on_hold_shelf" else None
    if trapped is not None and trapped.patron_id != ref.id:
        if not no_block:
            raise Refusal(Reason.ITEM_ON_HOLD, "the item is waiting on the hold shelf for another patron")
        hold_service.requeue(ctx, trapped)
        trapped = None
    facts = item_facts(ctx, row, state.copies)
    decision = decide_checkout(ctx.policy, ctx.calendar, account_of(ctx, ref), facts, ctx.money(row.price_minor), ctx.today)
    overridden = None
    if not decision.ok:
        if not no_block:
            raise Refusal(decision.reason, None, decision.rule, steps=[st.detail for st in decision.steps])
        overridden = {"reason": decision.reason.value, "rule": decision.rule}
        decision = offline_loan(ctx.policy, ctx.calendar, {**patron_facts(ctx, ref), **facts}, ctx.today)
    due_at = ctx.calendar.end_of_day(decision.due)
    loan_id = _INSERT_LOAN.run(ctx.conn, {
        "library_id": ctx.library.id, "item_id": row.id, "patron_id": ref.id, "card_id": ref.card.id if ref.card else None,
        "checked_out_at": ctx.now, "due_at": due_at, "status": "active", "renewals": 0,
        "first_reader": row.times_loaned == 0, "policy_version": ctx.policy.version, "rule_id": decision.rule,
        "terms": decision.terms, "terminal": ctx.terminal,
    })
    _LEND_ITEM.run(ctx.conn, {"item": row.id, "now": ctx.now})
    if trapped is not None:
        hold_service.fulfil(ctx, trapped)
    return {"rule": decision.rule, "due": due_at, "loan_id": loan_id, "patron_id": ref.id, "item_id": row.id,
            "title_id": row.bib_id, "renewal": False, "overridden": overridden}


def renew(ctx: Ctx, patron: str, item: str) -> dict[str, Any]:
    ref = find_patron(ctx, patron, lock=True)
    row = find_item(ctx, item, lock=True)
    loan = active_loan_of_item(ctx, row.id)
    if loan is None or loan.patron_id != ref.id:
        raise Refusal(Reason.ITEM_NOT_CHECKED_OUT, "this item is not on loan to this patron")
    return renew_loan(ctx, ref, row, loan)


def renew_loan(ctx: Ctx, ref: PatronRef, item: Row, loan: Row) -> dict[str, Any]:
    standing = patron_standing_refusal(ctx, ref)
    if standing is not None and standing.reason != Reason.CARD_EXPIRED:
        raise standing
    decision = decide_renewal(ctx.policy, ctx.calendar, renewal_facts(ctx, ref, item, loan), ctx.today)
    if not decision.ok:
        raise Refusal(decision.reason, None, decision.rule, steps=[st.detail for st in decision.steps])
    due_at = ctx.calendar.end_of_day(decision.due)
    ctx.conn.execute(update(s.loans).where(s.loans.c.id == loan.id).values(due_at=due_at, renewals=loan.renewals + 1))
    return {"rule": loan.rule_id, "due": due_at, "loan_id": loan.id, "patron_id": ref.id, "item_id": item.id,
            "title_id": item.bib_id, "renewal": True, "policy_version": loan.policy_version}


def renew_all(ctx: Ctx, patron: str) -> dict[str, Any]:
    """Renew every loan that may be renewed; report which were and which were not (one transaction)."""
    ref = find_patron(ctx, patron, lock=True)
    renewed, refused = [], []
    for loan in active_loans_with_items(ctx, ref.id):
        item = find_item(ctx, loan.barcode)
        try:
            result = renew_loan(ctx, ref, item, loan)
            renewed.append({"item": loan.barcode, "due": result["due"]})
            ctx.audit("renew", patron_id=ref.id, item_id=item.id, ok=True, rule=loan.rule_id,
                      policy_version=loan.policy_version)
        except Refusal as refusal:
            refused.append({"item": loan.barcode, "reason": refusal.reason.value, "message": refusal.message})
            ctx.audit("renew", patron_id=ref.id, item_id=item.id, ok=False, reason=refusal.reason, rule=refusal.rule)
    return {"renewed": renewed, "refused": refused, "patron_id": ref.id}


def checkin(ctx: Ctx, item: str, *, returned_at: dt.datetime | None = None) -> dict[str, Any]:
    """Return an item: close the loan, charge any overdue fine, trap it for the next hold."""
    state = _locked_loan(ctx, item)
    row, loan = state.item, state.loan
    if loan is None:
        if row.status == "lost":
            return found(ctx, item)
        raise Refusal(Reason.ITEM_NOT_CHECKED_OUT, item_id=row.id, title_id=row.bib_id)
    fine = close_loan(ctx, loan, row, returned_at or ctx.now)
    trap = hold_service.trap(ctx, row, holds_waiting=state.holds_waiting)
    return {
        "rule": fine.rule or loan.rule_id, "item_id": row.id, "title_id": row.bib_id, "patron_id": loan.patron_id,
        "hold": trap, "branch": row.branch, "location": row.location, "was_overdue": fine.amount > 0 or fine.rule is not None,
    }


def _locked_loan(ctx: Ctx, item: str) -> ItemState:
    """The item and its active loan, read under the borrower's and the item's locks (in that order).

    The loan is looked up first to know whose lock to take, then read again
    under the locks: a concurrent checkin or checkout may have changed it.
    """
    for _ in range(5):
        peek = item_state(ctx, item)
        if not ctx.lock_rows:  # SQLite: the transaction already holds the database's write lock
            return peek
        if peek.loan is not None:
            find_patron_by_id_locked(ctx, peek.loan.patron_id)
        locked = item_state(ctx, item, lock=True)
        if locked.loan is None or (peek.loan is not None and locked.loan.id == peek.loan.id):
            return locked
    raise Refusal(Reason.INVALID_STATE, "the item's loan kept changing; try again")


def close_loan(ctx: Ctx, loan: Row, item: Row, returned: dt.datetime) -> Decision:
    """End a loan on its return date, charging the overdue fine its own terms set."""
    fine = overdue_fine(ctx.policy, ctx.calendar, loan.terms, due_day(ctx, loan), ctx.calendar.local_date(returned))
    if fine.amount:
        entry = ctx.charge(loan.patron_id, "overdue", fine.amount, loan_id=loan.id, item_id=item.id, rule_id=fine.rule)
        ctx.notify(loan.patron_id, "fine", f"fine:{entry}", fee_type="overdue", **amounts(ctx, fine.amount),
                   **about_item(ctx, item.id))
    _RETURN_LOAN.run(ctx.conn, {"loan": loan.id, "returned": returned})
    return fine


def find_patron_by_id_locked(ctx: Ctx, patron_id: int) -> None:
    """Lock the borrower's row before the item's: the one lock order every service keeps."""
    if ctx.lock_rows:
        _LOCK_PATRON.first(ctx.conn, {"patron": patron_id})
