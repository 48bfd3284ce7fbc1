"""Items (copies) and minimal titles, for the desk, simulations and tests.

Catalogers load full MARC records and holdings through ``marc/``; this module
adds a copy when only its circulation attributes are known, and changes an
item's attributes (SIP2 item status update, desk edits).
"""

from __future__ import annotations

from typing import Any

import pymarc
from sqlalchemy import insert, select, update

from ils_bridge.outcome import Refusal
from ils_bridge.reasons import Reason
from ils_bridge.services.catalogue import records_changed
from ils_bridge.services.context import Ctx
from ils_bridge.services.lookup import find_item
from ils_bridge.storage import schema as s

EDITABLE = ("material", "collection", "language", "classification", "branch", "location", "call_number", "pub_year",
            "closed_stack", "important_work", "volume", "volumes_in_set", "copy_number")
ITEM_STATUSES = ("available", "checked_out", "on_hold_shelf", "lost", "missing", "withdrawn", "in_transit")
FLAGS = ("closed_stack", "important_work")  # yes or no, never unknown


def _check_attributes(attributes: dict[str, Any], allowed: set[str]) -> None:
    """Refuse names an item does not have, and a flag given as anything but true or false."""
    unknown = set(attributes) - allowed
    if unknown:
        raise Refusal(Reason.INVALID_REQUEST, f"unknown item attribute(s): {', '.join(sorted(unknown))}")
    for flag in FLAGS:
        if flag in attributes and not isinstance(attributes[flag], bool):
            raise Refusal(Reason.INVALID_REQUEST, f"{flag} must be true or false, not {attributes[flag]!r}")


def minimal_marc(title: str, author: str | None = None, control_number: str | None = None) -> bytes:
    """ISO 2709 bytes of a brief record: enough for an OPAC to show a title added at the desk."""
    record = pymarc.Record(force_utf8=True)
    record.leader = pymarc.Leader("     nam a22     7a 4500")
    if control_number:
        record.add_field(pymarc.Field(tag="001", data=control_number))
    if author:
        record.add_field(pymarc.Field(tag="100", indicators=pymarc.Indicators("1", " "), subfields=[pymarc.Subfield("a", author)]))
    record.add_field(pymarc.Field(tag="245", indicators=pymarc.Indicators("0", "0"), subfields=[pymarc.Subfield("a", title)]))
    return record.as_marc()


def add_title(ctx: Ctx, title: str, *, author: str | None = None, control_number: str | None = None,
              pub_year: int | None = None, language: str | None = None) -> int:
    if not (title or "").strip():
        raise Refusal(Reason.INVALID_REQUEST, "a title is needed")
    title_id = ctx.conn.execute(insert(s.bib_records).values(
        library_id=ctx.library.id, control_number=control_number, title=title, author=author, pub_year=pub_year,
        language=language, marc=minimal_marc(title, author, control_number), created_at=ctx.now, updated_at=ctx.now,
    )).inserted_primary_key[0]
    records_changed(ctx.conn, [title_id])  # searchable in the OPAC once this commits
    return title_id


def add_item(ctx: Ctx, barcode: str, title_id: int, material: str, *, price: object | None = None,
             currency: str | None = None, **attributes: Any) -> dict[str, Any]:
    barcode = (barcode or "").strip()
    if not barcode:
        raise Refusal(Reason.INVALID_REQUEST, "an item needs a barcode")
    materials = ctx.policy.vocabulary.get("materials", ())
    if material not in materials:
        raise Refusal(Reason.INVALID_REQUEST, f"{material!r} is not one of this library's materials: {', '.join(materials)}")
    _check_attributes(attributes, set(EDITABLE) | {"set_price", "replacement_value"})
    if ctx.conn.execute(select(s.bib_records.c.id).where(s.bib_records.c.id == title_id,
                                                         s.bib_records.c.library_id == ctx.library.id)).first() is None:
        raise Refusal(Reason.INVALID_REQUEST, f"no title {title_id}")
    if ctx.conn.execute(select(s.items.c.id).where(s.items.c.library_id == ctx.library.id, s.items.c.barcode == barcode)).first():
        raise Refusal(Reason.DUPLICATE, f"barcode {barcode} is already in use")
    money = {}
    for name in ("set_price", "replacement_value"):
        if attributes.get(name) is not None:
            money[f"{name}_minor"] = ctx.minor(ctx.amount(attributes.pop(name), currency))
        attributes.pop(name, None)
    price_minor = ctx.minor(ctx.amount(price, currency, allow_zero=True)) if price is not None else None
    item_id = ctx.conn.execute(insert(s.items).values(
        library_id=ctx.library.id, bib_id=title_id, barcode=barcode, material=material, price_minor=price_minor,
        currency=ctx.currency.code, status="available", created_at=ctx.now, updated_at=ctx.now, **money, **attributes,
    )).inserted_primary_key[0]
    return {"rule": "items:add", "item_id": item_id, "title_id": title_id}


def update_item(ctx: Ctx, barcode: str, **changes: Any) -> dict[str, Any]:
    """Change an item's attributes or shelf status (never its loan state: that is circulation's)."""
    row = find_item(ctx, barcode, lock=True)
    status = changes.pop("status", None)
    _check_attributes(changes, set(EDITABLE))
    if status is not None:
        if status not in ("available", "missing", "withdrawn", "in_transit"):
            raise Refusal(Reason.INVALID_REQUEST, f"status {status!r} cannot be set directly")
        if row.status in ("checked_out", "on_hold_shelf", "lost"):
            raise Refusal(Reason.INVALID_STATE, f"the item is {row.status}: check it in first")
        changes["status"] = status
    if "material" in changes and changes["material"] not in ctx.policy.vocabulary.get("materials", ()):
        raise Refusal(Reason.INVALID_REQUEST, f"{changes['material']!r} is not a material here")
    if changes:
        ctx.conn.execute(update(s.items).where(s.items.c.id == row.id).values(updated_at=ctx.now, **changes))
    return {"rule": "items:update", "item_id": row.id, "title_id": row.bib_id}

