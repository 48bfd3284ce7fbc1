"""35 End Patron Session -> 36: the patron walked away; forget their verified password on this connection."""

from __future__ import annotations

from ..message import Message
from .base import Exchange

REQUEST_ID = "35"


async def handle(ex: Exchange) -> Message:
    ex.forget_patrons()
    reply = ex.reply(end_session="Y")
    reply.add("AO", ex.terminal.institution_id)
    reply.add("AA", ex.patron)
    return ex.say(reply, "session_ended")
