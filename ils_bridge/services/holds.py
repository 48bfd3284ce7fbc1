"""Holds: the queue per title, trapping returned copies, the hold shelf and recalls."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Row, bindparam, insert, select, update

from ils_bridge.outcome import Refusal
from ils_bridge.reasons import Reason
from ils_bridge.services.context import Ctx
from ils_bridge.services.ledger import apply_deposit_to_fees
from ils_bridge.services.lookup import find_item, find_patron, require_standing, waiting_holds
from ils_bridge.services.notices import about_item, about_loan, about_title, place_name
from ils_bridge.storage import schema as s
from ils_bridge.storage.prepared import Prepared
from policies.decisions import decide_hold, shelf_expiry

OPEN_STATUSES = ("waiting", "ready")


def place_hold(
    ctx: Ctx, patron: str, *, item: str | None = None, title_id: int | None = None,
    lapse_on: dt.date | None = None, pickup_branch: str | None = None,
) -> dict[str, Any]:
    ref = find_patron(ctx, patron, lock=True)
    require_standing(ctx, ref)
    row = find_item(ctx, item) if item else None
    bib_id = row.bib_id if row is not None else title_id
    if bib_id is None:
        raise Refusal(Reason.INVALID_REQUEST, "a hold needs an item barcode or a title id")
    copies = list(ctx.conn.execute(select(s.items).where(s.items.c.bib_id == bib_id, s.items.c.status != "withdrawn")))
    if not copies:
        raise Refusal(Reason.UNKNOWN_ITEM, f"the library holds no copy of title {bib_id}")
    loans = {loan.item_id: loan for loan in ctx.conn.execute(
        select(s.loans).where(s.loans.c.item_id.in_([c.id for c in copies]), s.loans.c.status == "active"))}
    if any(loan.patron_id == ref.id for loan in loans.values()) and (row is None or row.id in loans):
        raise Refusal(Reason.HOLD_NOT_ALLOWED, "the patron has this title out already")
    if lapse_on is not None and not ctx.policy.holds.patron_lapse_date:
        raise Refusal(Reason.NOT_PERMITTED, "this library does not take a patron's own hold expiry date")
    if lapse_on is not None and lapse_on < ctx.today:
        raise Refusal(Reason.INVALID_REQUEST, f"the hold would lapse in the past ({lapse_on})")
    existing = ctx.conn.execute(select(s.holds.c.id).where(
        s.holds.c.patron_id == ref.id, s.holds.c.bib_id == bib_id, s.holds.c.status.in_(OPEN_STATUSES))).first()
    if existing is not None:
        raise Refusal(Reason.HOLD_EXISTS)
    targets = [row] if row is not None else copies
    available = any(c.status == "available" for c in targets)
    count = ctx.conn.execute(select(s.holds.c.id).where(
        s.holds.c.patron_id == ref.id, s.holds.c.status.in_(OPEN_STATUSES))).all()
    decision = decide_hold(ctx.policy, available, len(count))
    if not decision.ok:
        raise Refusal(decision.reason, decision.steps[-1].detail, decision.rule)
    hold_id = ctx.conn.execute(insert(s.holds).values(
        library_id=ctx.library.id, patron_id=ref.id, bib_id=bib_id, item_id=row.id if row is not None else None,
        placed_at=ctx.now, status="waiting", pickup_branch=pickup_branch, lapse_on=lapse_on,
        policy_version=ctx.policy.version, rule_id=decision.rule,
    )).inserted_primary_key[0]
    queue = len(waiting_holds(ctx, bib_id))
    if ctx.policy.holds.recall_notice:
        _recall_for_hold(ctx, [loans[c.id] for c in targets if c.id in loans], hold_id)
    return {"rule": decision.rule, "hold_id": hold_id, "title_id": bib_id, "queue_position": queue, "patron_id": ref.id}


def _recall_for_hold(ctx: Ctx, loans: list[Row], hold_id: int) -> None:
    """Tell the borrower whose copy falls due first that someone is waiting for it."""
    if not loans:
        return
    loan = min(loans, key=lambda l: l.due_at)
    ctx.conn.execute(update(s.loans).where(s.loans.c.id == loan.id).values(
        recalled_at=ctx.now, recall_notices=loan.recall_notices + 1))
    ctx.notify(loan.patron_id, "recall", f"recall:hold:{hold_id}", loan_id=loan.id,
               **about_loan(ctx, loan.item_id, loan.due_at))


def recall(ctx: Ctx, item: str, *, new_due: dt.date | None = None) -> dict[str, Any]:
    """Staff recall an item before its due date (optionally bringing the due date forward)."""
    row = find_item(ctx, item, lock=True)
    loan = ctx.conn.execute(select(s.loans).where(s.loans.c.item_id == row.id, s.loans.c.status == "active")).first()
    if loan is None:
        raise Refusal(Reason.ITEM_NOT_CHECKED_OUT)
    values: dict[str, Any] = {"recalled_at": ctx.now, "recall_notices": loan.recall_notices + 1}
    if new_due is not None:
        if new_due < ctx.today:
            raise Refusal(Reason.INVALID_REQUEST, f"the new due date {new_due} is in the past")
        values["due_at"] = min(loan.due_at, ctx.calendar.end_of_day(new_due))
    ctx.conn.execute(update(s.loans).where(s.loans.c.id == loan.id).values(**values))
    notices = loan.recall_notices + 1
    ctx.notify(loan.patron_id, "recall", f"recall:{loan.id}:{notices}", loan_id=loan.id,
               **about_loan(ctx, loan.item_id, values.get("due_at", loan.due_at)))
    applied = None
    limit = ctx.policy.deposits.recall_notices_before_apply
    if limit is not None and notices >= limit:
        applied = apply_deposit_to_fees(ctx, loan.patron_id, reason=f"{notices} recall notices without return")
    return {"rule": "holds:recall", "loan_id": loan.id, "recall_notices": notices, "patron_id": loan.patron_id,
            "item_id": row.id, "deposit_applied": applied}


def cancel_hold(ctx: Ctx, patron: str, *, hold_id: int | None = None, item: str | None = None) -> dict[str, Any]:
    ref = find_patron(ctx, patron, lock=True)
    hold = _open_hold(ctx, ref.id, hold_id, item)
    close(ctx, hold, "cancelled")
    return {"rule": "holds:cancel", "hold_id": hold.id, "patron_id": ref.id, "title_id": hold.bib_id}


def close(ctx: Ctx, hold: Row, status: str) -> None:
    """End a hold; a copy it held on the shelf goes to the next patron or back to the shelf."""
    ctx.conn.execute(update(s.holds).where(s.holds.c.id == hold.id).values(status=status, closed_at=ctx.now))
    if hold.status == "ready" and hold.item_id is not None:
        trap(ctx, ctx.conn.execute(select(s.items).where(s.items.c.id == hold.item_id)).one())


_TRAPPED = Prepared(select(s.holds).where(s.holds.c.item_id == bindparam("item"), s.holds.c.status == "ready"))
_SHELVE = Prepared(update(s.items).where(s.items.c.id == bindparam("item")).values(
    status="available", updated_at=bindparam("now")))


def trapped_hold(ctx: Ctx, item_id: int) -> Row | None:
    return _TRAPPED.first(ctx.conn, {"item": item_id})


def trap(ctx: Ctx, item: Row, *, holds_waiting: int | None = None) -> dict[str, Any] | None:
    """Put a returned copy on the hold shelf for the first hold still wanted, else back on the shelf.

    ``holds_waiting``: the title's waiting holds when the caller has counted them (0: the queue is not read)."""
    queue = [] if holds_waiting == 0 else waiting_holds(ctx, item.bib_id, item.id)
    for hold in queue:
        if hold.lapse_on is not None and hold.lapse_on < ctx.today:
            ctx.conn.execute(update(s.holds).where(s.holds.c.id == hold.id).values(status="expired", closed_at=ctx.now))
            continue
        expires = shelf_expiry(ctx.policy, ctx.calendar, ctx.today)
        ctx.conn.execute(update(s.holds).where(s.holds.c.id == hold.id).values(
            status="ready", item_id=item.id, ready_at=ctx.now, shelf_expires_on=expires))
        ctx.conn.execute(update(s.items).where(s.items.c.id == item.id).values(status="on_hold_shelf", updated_at=ctx.now))
        holder = ctx.conn.execute(select(s.patrons.c.number, s.patrons.c.name).where(s.patrons.c.id == hold.patron_id)).one()
        ctx.notify(hold.patron_id, "hold_ready", f"hold_ready:{hold.id}:{item.id}", hold_id=hold.id, item_id=item.id,
                   **about_item(ctx, item.id), pickup_branch=place_name(ctx, hold.pickup_branch or item.branch),
                   shelf_expires_on=expires.isoformat())
        return {"hold_id": hold.id, "patron": holder.number, "patron_name": holder.name,
                "pickup_branch": hold.pickup_branch or item.branch, "shelf_expires_on": expires.isoformat()}
    _SHELVE.run(ctx.conn, {"item": item.id, "now": ctx.now})
    return None


def requeue(ctx: Ctx, hold: Row) -> None:
    """A trapped copy left with someone else (an offline checkout): the hold waits again at its place in the queue."""
    ctx.conn.execute(update(s.holds).where(s.holds.c.id == hold.id).values(
        status="waiting", item_id=None, ready_at=None, shelf_expires_on=None))


def change_hold(ctx: Ctx, patron: str, *, hold_id: int | None = None, item: str | None = None,
                lapse_on: dt.date | None = None, pickup_branch: str | None = None) -> dict[str, Any]:
    """Change a hold's pickup branch or lapse date in place, keeping its place in the queue."""
    ref = find_patron(ctx, patron, lock=True)
    hold = _open_hold(ctx, ref.id, hold_id, item)
    values: dict[str, Any] = {}
    if lapse_on is not None:
        if not ctx.policy.holds.patron_lapse_date:
            raise Refusal(Reason.NOT_PERMITTED, "this library does not take a patron's own hold expiry date")
        if lapse_on < ctx.today:
            raise Refusal(Reason.INVALID_REQUEST, f"the hold would lapse in the past ({lapse_on})")
        values["lapse_on"] = lapse_on
    if pickup_branch is not None:
        values["pickup_branch"] = pickup_branch
    if not values:
        raise Refusal(Reason.INVALID_REQUEST, "say what to change: the lapse date or the pickup branch")
    ctx.conn.execute(update(s.holds).where(s.holds.c.id == hold.id).values(**values))
    return {"rule": "holds:change", "hold_id": hold.id, "patron_id": ref.id, "title_id": hold.bib_id}


def _open_hold(ctx: Ctx, patron_id: int, hold_id: int | None, item: str | None) -> Row:
    query = select(s.holds).where(s.holds.c.patron_id == patron_id, s.holds.c.status.in_(OPEN_STATUSES))
    if hold_id is not None:
        query = query.where(s.holds.c.id == hold_id)
    elif item:
        query = query.where(s.holds.c.bib_id == find_item(ctx, item).bib_id)
    else:
        raise Refusal(Reason.INVALID_REQUEST, "say which hold (hold id or item)")
    hold = ctx.conn.execute(query).first()
    if hold is None:
        raise Refusal(Reason.UNKNOWN_HOLD, "the patron has no open hold like that")
    return hold


def fulfil(ctx: Ctx, hold: Row) -> None:
    ctx.conn.execute(update(s.holds).where(s.holds.c.id == hold.id).values(status="fulfilled", closed_at=ctx.now))


def expire_holds(ctx: Ctx) -> dict[str, int]:
    """Daily: copies left on the hold shelf past their last day, and holds past the patron's lapse date."""
    shelf = list(ctx.conn.execute(select(s.holds).where(
        s.holds.c.library_id == ctx.library.id, s.holds.c.status == "ready", s.holds.c.shelf_expires_on < ctx.today)))
    for hold in shelf:
        ctx.notify(hold.patron_id, "hold_expired", f"hold_expired:{hold.id}", hold_id=hold.id,
                   **about_title(ctx, hold.bib_id, hold.item_id))
        close(ctx, hold, "expired")
    lapsed = list(ctx.conn.execute(select(s.holds).where(
        s.holds.c.library_id == ctx.library.id, s.holds.c.status == "waiting", s.holds.c.lapse_on < ctx.today)))
    for hold in lapsed:
        close(ctx, hold, "expired")
    return {"shelf_expired": len(shelf), "lapsed": len(lapsed)}
