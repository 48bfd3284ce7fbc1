"""17 Item Information -> 18: one read (``Library.item_circulation``); the gate's path, kept lean.

A gate only needs the circulation status: 03 available (alarm), 04 charged
or 07 recalled (let through); 08 waiting on the hold shelf, 10 in transit,
12 lost, 13 missing (the whole mapping is ``mapping.circulation_status``).
Self-checks also show title, due date, hold queue and hold shelf expiry.
"""

from __future__ import annotations

from ..message import Message
from .base import Exchange
from .mapping import circulation_status, media_type

REQUEST_ID = "17"


async def handle(ex: Exchange) -> Message:
    info, missing = await ex.read("item_circulation", ex.item)
    if info is None:
        reply = ex.refuse(missing)
        reply.fields.remove_all("AJ")
        reply.add("AJ", "")
        return reply
    reply = ex.reply(circulation_status=circulation_status(info), security_marker=ex.terminal.settings.security_marker,
                     fee_type="01")
    reply.add("CF", info["hold_queue"])
    if info["due"] is not None:
        reply.add("AH", ex.due_text(info["due"]))
    if info["hold_shelf_expires_on"] is not None:
        reply.add("CM", info["hold_shelf_expires_on"].strftime("%Y%m%d    235959"))
    reply.add("AB", info["barcode"]).add("AJ", info["title"]).add("BG", ex.library.record.name)
    reply.add("CK", media_type(info["material"], ex.backend.settings.media_types.get(ex.library.code, {})))
    reply.add("AQ", info["branch"] or "").add("AP", info["location"] or info["branch"] or "")
    return reply
