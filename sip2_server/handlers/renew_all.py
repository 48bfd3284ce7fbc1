"""65 Renew All -> 66: renew every loan that may be renewed; BM lists the renewed, BN the rest."""

from __future__ import annotations

from ..message import Message
from .base import Exchange

REQUEST_ID = "65"


async def handle(ex: Exchange) -> Message:
    if refusal := await ex.pin_refusal():
        return refusal
    outcome = await ex.call("renew_all", ex.patron, request_key=ex.request_key(ex.patron))
    if not outcome.ok:
        return ex.refuse_outcome(outcome)
    renewed, refused = outcome.data["renewed"], outcome.data["refused"]
    reply = ex.reply(ok=ex.flag("ok", True), renewed_count=len(renewed), unrenewed_count=len(refused))
    reply.add("AO", ex.terminal.institution_id)
    for loan in renewed:
        reply.add("BM", loan["item"])
    for loan in refused:
        reply.add("BN", loan["item"])
    return ex.say(reply, "renewed_all", renewed=len(renewed), unrenewed=len(refused))
