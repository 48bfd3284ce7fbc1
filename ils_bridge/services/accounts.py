"""Read models: a patron's account, an item's state, a title's availability.

Adapters render these (SIP2 patron information and item information, the
CLI's account view, SRU/Z39.50 holdings); nothing here writes.
"""

from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import Connection, bindparam, func, select

from ils_bridge.outcome import Refusal
from ils_bridge.reasons import Reason
from ils_bridge.services.context import Ctx
from ils_bridge.services.ledger import open_charges
from ils_bridge.services.lookup import (
    HOLDS_WAITING_FOR_ITEM_TITLE,
    active_loans_with_items,
    balance,
    current_card,
    due_day,
    find_patron,
    item_facts,
    patron_facts,
    patron_standing_refusal,
)
from ils_bridge.storage import schema as s
from ils_bridge.storage.prepared import Prepared
from policies.decisions import overdue_fine


def patron_account(ctx: Ctx, patron: str) -> dict[str, Any]:
    ref = find_patron(ctx, patron)
    standing = patron_standing_refusal(ctx, ref)
    titles = _titles(ctx)
    loans = []
    for loan in active_loans_with_items(ctx, ref.id):
        due = due_day(ctx, loan)
        accruing = overdue_fine(ctx.policy, ctx.calendar, loan.terms, due, ctx.today).amount
        loans.append({
            "item": loan.barcode, "title": titles(loan.bib_id), "due": loan.due_at, "overdue": due < ctx.today,
            "renewals": loan.renewals, "recalled": loan.recalled_at is not None, "accruing_fine": accruing,
            "rule": loan.rule_id, "policy_version": loan.policy_version,
        })
    holds = []
    for hold in ctx.conn.execute(select(s.holds, s.items.c.barcode).outerjoin(s.items, s.items.c.id == s.holds.c.item_id)
                                 .where(s.holds.c.patron_id == ref.id, s.holds.c.status.in_(("waiting", "ready")))
                                 .order_by(s.holds.c.placed_at)):
        holds.append({"hold_id": hold.id, "title_id": hold.bib_id, "title": titles(hold.bib_id), "status": hold.status,
                      "item": hold.barcode, "shelf_expires_on": hold.shelf_expires_on, "lapse_on": hold.lapse_on,
                      "pickup_branch": hold.pickup_branch})
    fees = [{"fee_id": c.id, "type": c.fee_type, "amount": c.amount, "outstanding": c.outstanding,
             "item_id": c.item_id, "created_at": c.created_at} for c in open_charges(ctx, ref.id)]
    card = current_card(ctx, ref.id)
    return {
        "patron_id": ref.id, "number": ref.row.number, "name": ref.row.name, "patron_type": ref.row.patron_type,
        "patron_group": ref.row.patron_group, "status": ref.row.status, "language": ref.row.language,
        "email": ref.row.email, "phone": ref.row.phone,
        "card": None if card is None else {"number": card.number, "kind": card.kind, "status": card.status,
                                           "valid_until": card.valid_until},
        "package": patron_facts(ctx, ref)["package"],
        "standing": None if standing is None else {"reason": standing.reason.value, "message": standing.message},
        "banned_until": ref.row.banned_until,
        "loans": loans, "holds": holds, "fees": fees,
        "fees_owed": balance(ctx, ref.id, "fees"), "deposit": balance(ctx, ref.id, "deposit"),
        "currency": ctx.currency.code, "pin_set": ref.row.pin_hash is not None,
    }


def _titles(ctx: Ctx):
    cache: dict[int, str] = {}

    def title(bib_id: int) -> str:
        if bib_id not in cache:
            cache[bib_id] = ctx.conn.execute(select(s.bib_records.c.title).where(s.bib_records.c.id == bib_id)).scalar() or ""
        return cache[bib_id]

    return title


_BORROWER = s.patrons.alias("borrower")
_HOLDER = s.patrons.alias("holder")
_READY = s.holds.alias("ready")
# An item's circulation state in one statement: the item, its title, its loan and borrower, its hold shelf state.
# No count of the title's copies: that walks every copy of the title (hundreds of microseconds for a title
# with a thousand copies), and only the in-library-only verdict needs it, never a gate.
_ITEM_INFO = Prepared(
    select(s.items, s.bib_records.c.title, s.bib_records.c.author, s.loans.c.due_at, s.loans.c.recalled_at,
           _BORROWER.c.number.label("borrower"), _HOLDER.c.number.label("hold_for"),
           _READY.c.shelf_expires_on, HOLDS_WAITING_FOR_ITEM_TITLE.label("hold_queue"))
    .outerjoin(s.bib_records, s.bib_records.c.id == s.items.c.bib_id)
    .outerjoin(s.loans, (s.loans.c.item_id == s.items.c.id) & (s.loans.c.status == "active"))
    .outerjoin(_BORROWER, _BORROWER.c.id == s.loans.c.patron_id)
    .outerjoin(_READY, (_READY.c.item_id == s.items.c.id) & (_READY.c.status == "ready"))
    .outerjoin(_HOLDER, _HOLDER.c.id == _READY.c.patron_id)
    .where(s.items.c.library_id == bindparam("library"), s.items.c.barcode == bindparam("barcode"))
)


def item_circulation(conn: Connection, library_id: int, barcode: str) -> dict[str, Any]:
    """An item's circulation state, in one indexed read needing no policy: what a gate (checked out or not)
    and a self-check screen show.  ``item_info`` adds what needs the policy and the title's other copies."""
    return _circulation(_item_row(conn, library_id, barcode))


def item_info(ctx: Ctx, barcode: str) -> dict[str, Any]:
    """Everything a self-check, a gate or a member of staff asks about one item."""
    row = _item_row(ctx.conn, ctx.library.id, barcode)
    return {
        **_circulation(row), "author": row.author, "call_number": row.call_number,
        "price": ctx.money(row.price_minor), "currency": ctx.currency.code,
        "in_library_only": in_library_only(ctx, item_facts(ctx, row)),
    }


def _item_row(conn: Connection, library_id: int, barcode: str) -> Any:
    row = _ITEM_INFO.first(conn, {"library": library_id, "barcode": (barcode or "").strip()})
    if row is None:
        raise Refusal(Reason.UNKNOWN_ITEM, f"no item has the barcode {barcode!r}")
    return row


def _circulation(row: Any) -> dict[str, Any]:
    return {
        "item_id": row.id, "barcode": row.barcode, "title_id": row.bib_id, "title": row.title or "",
        "status": row.status, "checked_out": row.due_at is not None,
        "due": row.due_at, "borrower": row.borrower, "recalled": row.recalled_at is not None,
        "hold_queue": row.hold_queue, "hold_for": row.hold_for, "hold_shelf_expires_on": row.shelf_expires_on,
        "material": row.material, "branch": row.branch, "location": row.location,
    }


_LOANABLE: dict[tuple[int, tuple[Any, ...]], bool] = {}


def in_library_only(ctx: Ctx, facts: dict[str, Any]) -> bool:
    """True when no patron type may take this item home (memoised per policy and item facts)."""
    key = (id(ctx.policy), tuple(sorted(facts.items(), key=lambda kv: kv[0])))
    if key not in _LOANABLE:
        if len(_LOANABLE) > 50_000:
            _LOANABLE.clear()
        _LOANABLE[key] = not any(_loanable_to(ctx, facts, t) for t in ctx.policy.vocabulary.get("patron_types", ()))
    return _LOANABLE[key]


def _loanable_to(ctx: Ctx, facts: dict[str, Any], patron_type: str) -> bool:
    rule = ctx.policy.loans.first({**facts, "patron_type": patron_type, "package": "*", "card_kind": "*"})
    return rule is not None and rule.loanable and (facts.get("copies") or 0) >= rule.min_copies


def availability(ctx: Ctx, title_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """Per title, each copy's live status: available, checked_out (with due), on_hold_shelf, lost, ..."""
    ids = list(title_ids)
    if not ids:
        return {}
    result: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    rows = ctx.conn.execute(
        select(s.items, s.loans.c.due_at)
        .outerjoin(s.loans, (s.loans.c.item_id == s.items.c.id) & (s.loans.c.status == "active"))
        .where(s.items.c.bib_id.in_(ids), s.items.c.library_id == ctx.library.id)
        .order_by(s.items.c.bib_id, s.items.c.id)
    ).all()
    counts: dict[int, int] = {}
    for row in rows:
        if row.status not in ("withdrawn", "lost"):
            counts[row.bib_id] = counts.get(row.bib_id, 0) + 1
    queues = dict(ctx.conn.execute(select(s.holds.c.bib_id, func.count()).where(
        s.holds.c.bib_id.in_(ids), s.holds.c.status == "waiting").group_by(s.holds.c.bib_id)).all())
    for row in rows:
        facts = item_facts(ctx, row, counts.get(row.bib_id, 0))
        result[row.bib_id].append({
            "barcode": row.barcode, "status": row.status, "due": row.due_at, "branch": row.branch,
            "copy_number": row.copy_number, "volume": row.volume,
            "location": row.location, "call_number": row.call_number, "material": row.material,
            "in_library_only": in_library_only(ctx, facts), "hold_queue": queues.get(row.bib_id, 0),
        })
    return result
