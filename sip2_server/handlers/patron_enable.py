"""25 Patron Enable -> 26: lift a block on the patron's account (``Library.unblock_patron``)."""

from __future__ import annotations

from ..message import Message
from .base import Exchange
from .patron_view import load_account, standing_reply, status_flags

REQUEST_ID = "25"


async def handle(ex: Exchange) -> Message:
    if refusal := await ex.pin_refusal():
        return refusal
    outcome = await ex.call("unblock_patron", ex.patron)
    account, missing = await load_account(ex, ex.patron)
    reply = ex.reply(patron_status=status_flags(account), language=ex.catalog.sip2_code)
    standing_reply(ex, reply, account, missing if outcome.ok else outcome.reason, None)
    if outcome.ok:
        ex.say(reply, "patron_enabled")
    return reply
