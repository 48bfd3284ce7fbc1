"""29 Renew -> 30: renew one loan (``Library.renew``); a resent renewal is not counted twice."""

from __future__ import annotations

from ils_bridge.reasons import Reason

from ..message import Message
from .base import Exchange

REQUEST_ID = "29"


async def handle(ex: Exchange) -> Message:
    if refusal := await ex.pin_refusal():
        return refusal
    if not ex.item:
        return ex.refuse(Reason.INVALID_REQUEST)  # title-only renewals (AJ) name no loan
    outcome = await ex.call("renew", ex.patron, ex.item, request_key=ex.request_key(ex.patron, ex.item))
    if not outcome.ok:
        reply = ex.refuse_outcome(outcome)
        reply.fixed["renewal_ok"] = "N"
        reply.fixed["desensitize"] = "N"
        return reply
    title = await ex.title(outcome.data.get("title_id"), ex.item)
    reply = ex.reply(ok=ex.flag("ok", True), renewal_ok="Y", magnetic_media="N", desensitize="Y")
    reply.add("AO", ex.terminal.institution_id).add("AA", ex.patron).add("AB", ex.item)
    reply.add("AJ", title).add("AH", ex.due_text(outcome.due))
    return ex.say(reply, "renewed", title=title, due=ex.local(outcome.due).date().isoformat())
