"""Scenarios from a library's own transactions: "what would last month have looked like under this policy"."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import func, select

from ils_bridge.app import Library
from ils_bridge.money import from_minor
from ils_bridge.storage import schema as s

REPLAYED_OPS = ("checkout", "checkin", "renew")


def scenario_from_library(lib: Library, since: dt.datetime) -> list[str]:
    """The library's own checkouts, checkins and renewals since ``since``, as scenario lines.

    Set-up lines describe the patrons and items involved as they are now (type,
    group, current package and deposit; item attributes and copy counts).  Loans
    made before ``since`` are not in the scenario, so their returns replay as
    refusals under both policies alike; compare runs, not single outcomes.
    """
    def work(conn: Any) -> list[str]:
        t, p, i = s.transactions, s.patrons, s.items
        rows = conn.execute(
            select(t.c.at, t.c.op, p.c.number, i.c.barcode)
            .outerjoin(p, p.c.id == t.c.patron_id).outerjoin(i, i.c.id == t.c.item_id)
            .where(t.c.library_id == lib.record.id, t.c.at >= since, t.c.op.in_(REPLAYED_OPS))
            .order_by(t.c.at, t.c.id)).all()
        patrons = sorted({r.number for r in rows if r.number})
        items = sorted({r.barcode for r in rows if r.barcode})
        start = since.isoformat()
        lines = [_patron_line(lib, number, start) for number in patrons]
        lines += [_item_line(conn, lib, barcode, start) for barcode in items]
        for row in rows:
            event: dict[str, Any] = {"op": row.op, "at": row.at.isoformat(), "item": row.barcode}
            if row.op != "checkin":
                event["patron"] = row.number
            lines.append(json.dumps(event, ensure_ascii=False))
        return lines

    return lib.app.db.read(work)


def _patron_line(lib: Library, number: str, at: str) -> str:
    account = lib.patron_account(number)
    event = {"op": "patron", "at": at, "id": number, "type": account["patron_type"], "group": account["patron_group"],
             "package": account["package"], "deposit": str(account["deposit"]) if account["deposit"] > 0 else None,
             "card_kind": account["card"]["kind"] if account["card"] else None}
    return json.dumps({k: v for k, v in event.items() if v is not None}, ensure_ascii=False)


def _item_line(conn: Any, lib: Library, barcode: str, at: str) -> str:
    item = conn.execute(select(s.items).where(s.items.c.library_id == lib.record.id, s.items.c.barcode == barcode)).one()
    copies = conn.execute(select(func.count()).select_from(s.items).where(
        s.items.c.bib_id == item.bib_id, s.items.c.status.not_in(("withdrawn", "lost")))).scalar_one()
    event = {"op": "item", "at": at, "barcode": barcode, "title": str(item.bib_id), "material": item.material,
             "collection": item.collection, "language": item.language, "classification": item.classification,
             "pub_year": item.pub_year, "closed_stack": item.closed_stack or None, "copies": copies,
             "price": str(from_minor(item.price_minor, lib.record.currency)) if item.price_minor is not None else None}
    return json.dumps({k: v for k, v in event.items() if v is not None}, ensure_ascii=False)
