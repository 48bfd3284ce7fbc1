"""Interlibrary loan and document delivery requests, and their subsidy."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update

from ils_bridge.outcome import Refusal
from ils_bridge.reasons import Reason
from ils_bridge.services.context import Ctx
from ils_bridge.services.lookup import find_patron, require_standing
from ils_bridge.services.notices import place_name
from ils_bridge.storage import schema as s

# state -> states it may move to
TRANSITIONS = {
    "new": ("sent", "cancelled"),
    "sent": ("filled", "not_filled", "cancelled"),
    "not_filled": ("redirected", "cancelled"),
    "redirected": ("sent", "cancelled"),
    "filled": ("delivered",),
    "delivered": (),
    "cancelled": (),
}
KINDS = ("loan", "copy")


def ill_request(ctx: Ctx, patron: str, title: str, *, field: str | None = None, kind: str = "copy",
                details: dict[str, Any] | None = None) -> dict[str, Any]:
    ref = find_patron(ctx, patron)
    require_standing(ctx, ref)
    if kind not in KINDS:
        raise Refusal(Reason.INVALID_REQUEST, f"an ILL request is for a loan or a copy, not {kind!r}")
    if not (title or "").strip():
        raise Refusal(Reason.INVALID_REQUEST, "say what is requested")
    request_id = ctx.conn.execute(insert(s.ill_requests).values(
        library_id=ctx.library.id, patron_id=ref.id, title=title.strip(), details=details or {}, field=field, kind=kind,
        state="new", created_at=ctx.now, updated_at=ctx.now, history=[{"state": "new", "at": ctx.now.isoformat()}],
    )).inserted_primary_key[0]
    return {"rule": "ill:request", "request_id": request_id, "patron_id": ref.id, "state": "new"}


def ill_update(ctx: Ctx, request_id: int, state: str, *, lender: str | None = None, cost: object | None = None,
               gateway_ref: str | None = None, note: str | None = None) -> dict[str, Any]:
    """Move a request along; when filled, decide the subsidy by the policy."""
    query = select(s.ill_requests).where(s.ill_requests.c.id == request_id, s.ill_requests.c.library_id == ctx.library.id)
    if ctx.lock_rows:
        query = query.with_for_update()
    row = ctx.conn.execute(query).first()
    if row is None:
        raise Refusal(Reason.UNKNOWN_REQUEST, f"no ILL request {request_id}")
    if state not in TRANSITIONS.get(row.state, ()):
        raise Refusal(Reason.INVALID_STATE, f"a request that is {row.state} cannot become {state} "
                      f"(next: {', '.join(TRANSITIONS[row.state]) or 'none'})")
    values: dict[str, Any] = {"state": state, "updated_at": ctx.now,
                              "history": row.history + [{"state": state, "at": ctx.now.isoformat(), "note": note}]}
    if lender is not None:
        values["lender"] = lender
    if gateway_ref is not None:
        values["gateway_ref"] = gateway_ref
    rule = f"ill:{state}"
    if state == "filled":
        amount = ctx.amount(cost, allow_zero=True) if cost is not None else Decimal(0)
        subsidy, rule = _subsidy(ctx, row, amount)
        values.update(cost_minor=ctx.minor(amount), subsidy_minor=ctx.minor(subsidy), subsidy_rule=rule)
    ctx.conn.execute(update(s.ill_requests).where(s.ill_requests.c.id == row.id).values(**values))
    if state == "filled":
        ctx.notify(row.patron_id, "ill_arrived", f"ill_arrived:{row.id}", request_id=row.id, title=row.title,
                   pickup_branch=place_name(ctx, (row.details or {}).get("pickup_branch")))
    return {"rule": rule, "request_id": row.id, "patron_id": row.patron_id, "state": state,
            "subsidy": ctx.money(values.get("subsidy_minor")) if "subsidy_minor" in values else None}


def _subsidy(ctx: Ctx, row: Any, cost: Decimal) -> tuple[Decimal, str]:
    policy = ctx.policy.ill
    if policy.subsidy_percent == 0:
        return Decimal(0), "ill:no_subsidy"
    if policy.subsidy_only_within_field:
        patron_field = ctx.conn.execute(select(s.patrons.c.field).where(s.patrons.c.id == row.patron_id)).scalar()
        if not row.field or not patron_field or row.field.strip().lower() != patron_field.strip().lower():
            return Decimal(0), "ill:outside_field"
    share = (cost * policy.subsidy_percent / 100).quantize(ctx.currency.quantum)
    return share, "ill:subsidy"
