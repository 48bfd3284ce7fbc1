"""Queueing patron notices in the outbox, inside the transaction that caused them.

Services call ``ctx.notify(patron_id, kind, dedupe, **payload)``; the facade
calls :func:`queue` before the transaction commits, so a rolled-back call
queues nothing.  The rows are written by the notice connector's
``enqueue``, the one place that checks a payload against the kind's template
variables and drops a repeated dedupe key: a job that runs twice in a day
queues nothing twice.  Delivery (templates, gateways, retries) happens later,
outside any service transaction (``ils-bridge notices run``).

The helpers below build the template variables services pass (see
``ils_bridge/connectors/notices/kinds.py``): dates are ISO days in the
library's timezone, amounts are plain decimal text beside their currency.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from ils_bridge.connectors.notices.delivery import address_for
from ils_bridge.connectors.notices.outbox import enqueue
from ils_bridge.services.context import Ctx
from ils_bridge.storage import schema as s

DEFAULT_CHANNELS = ("email",)


def queue(ctx: Ctx) -> int:
    """Write the notices the call asked for; return how many rows were new."""
    written = 0
    for notice in ctx.notices:
        for channel in channels_for(ctx, notice["patron_id"]):
            row_id = enqueue(
                ctx.conn, library_id=ctx.library.id, patron_id=notice["patron_id"], kind=notice["kind"],
                channel=channel, dedupe_key=f"{notice['dedupe']}:{channel}", payload=notice["payload"], now=ctx.now,
            )
            written += row_id is not None
    ctx.notices.clear()
    return written


def channels_for(ctx: Ctx, patron_id: int) -> tuple[str, ...]:
    """The policy's channels on which the patron has an address.

    A patron reachable on none of them still gets the notice on the first
    channel, so the failure shows in the dead-letter list instead of vanishing.
    """
    channels = tuple(ctx.policy.notices.get("channels") or DEFAULT_CHANNELS)
    patron = ctx.conn.execute(select(s.patrons.c.email, s.patrons.c.phone, s.patrons.c.external_id, s.patrons.c.number)
                              .where(s.patrons.c.id == patron_id)).mappings().one()
    return tuple(c for c in channels if address_for(c, patron)) or channels[:1]


# -- template variables --------------------------------------------------------------
def about_item(ctx: Ctx, item_id: int) -> dict[str, str]:
    """``title`` and ``barcode`` of an item."""
    row = ctx.conn.execute(select(s.items.c.barcode, s.bib_records.c.title)
                           .join(s.bib_records, s.bib_records.c.id == s.items.c.bib_id)
                           .where(s.items.c.id == item_id)).one()
    return {"title": row.title, "barcode": row.barcode}


def about_title(ctx: Ctx, bib_id: int, item_id: int | None = None) -> dict[str, str]:
    """``title`` of a held title, and the ``barcode`` of the copy when there is one."""
    if item_id is not None:
        return about_item(ctx, item_id)
    return {"title": ctx.conn.execute(select(s.bib_records.c.title).where(s.bib_records.c.id == bib_id)).scalar_one()}


def about_loan(ctx: Ctx, item_id: int, due_at: dt.datetime) -> dict[str, str]:
    """``title``, ``barcode`` and ``due_date`` (the library's calendar day) of a loan."""
    return {**about_item(ctx, item_id), "due_date": ctx.calendar.local_date(due_at).isoformat()}


def amounts(ctx: Ctx, amount: Decimal, **more: Decimal) -> dict[str, str]:
    """``amount`` and ``currency`` (plus any further named amounts) as text."""
    return {"amount": str(amount), "currency": ctx.currency.code, **{k: str(v) for k, v in more.items()}}


def place_name(ctx: Ctx, branch: str | None) -> str:
    """A branch's name (its code if the library has no such branch); the library's name without one."""
    if not branch:
        return ctx.library.name
    name = ctx.conn.execute(select(s.branches.c.name).where(
        s.branches.c.library_id == ctx.library.id, s.branches.c.code == branch)).scalar()
    return name or branch


def notify_charges(ctx: Ctx, patron_id: int, fee_type: str, *, item_id: int | None = None) -> None:
    """One ``fine`` notice for everything this call charged the patron: a lost item's price, its processing
    fee and its overdue fine make one bill.  Keyed by the first ledger entry, like an overdue fine's."""
    if not ctx.fees:
        return
    total = sum((fee.amount for fee in ctx.fees), Decimal(0))
    about = about_item(ctx, item_id) if item_id is not None else {}
    ctx.notify(patron_id, "fine", f"fine:{ctx.fees[0].entry_id}", fee_type=fee_type, **amounts(ctx, total), **about)
