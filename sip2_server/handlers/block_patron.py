"""01 Block Patron -> 24: an SC blocks the account (e.g. it kept a card); ``Library.block_patron``."""

from __future__ import annotations

from ..message import Message
from .base import Exchange
from .patron_view import load_account, standing_reply, status_flags

REQUEST_ID = "01"


async def handle(ex: Exchange) -> Message:
    reason = ex.field("AL") or "blocked by a self-service terminal"
    if ex.request.fixed.get("card_retained") == "Y":
        reason += " (card retained)"
    outcome = await ex.call("block_patron", ex.patron, f"{ex.terminal.login}: {reason}")
    account, missing = await load_account(ex, ex.patron)
    reply = ex.reply(patron_status=status_flags(account), language=ex.catalog.sip2_code)
    standing_reply(ex, reply, account, missing if outcome.ok else outcome.reason, None)
    return reply
