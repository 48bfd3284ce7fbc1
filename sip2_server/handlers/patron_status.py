"""23 Patron Status Request -> 24: the patron's standing, and whether the password (AD) is right."""

from __future__ import annotations

from ..message import Message
from .base import Exchange
from .patron_view import load_account, standing_reply, status_flags

REQUEST_ID = "23"


async def handle(ex: Exchange) -> Message:
    account, missing = await load_account(ex, ex.patron)
    pin = await ex.pin_given() if account else None
    reply = ex.reply(patron_status=status_flags(account), language=ex.catalog.sip2_code)
    return standing_reply(ex, reply, account, missing, pin)
