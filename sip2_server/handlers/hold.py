"""15 Hold -> 16: place (+) or cancel (-) a hold on the title of an item (AB).

BS is the pickup branch, BW the patron's "not needed after" date (only
where the policy takes one).  Changing a hold (*) is refused: the facade has
no call that changes a hold in place, and cancelling and placing it again
would cost the patron their place in the queue.
"""

from __future__ import annotations

from ils_bridge.reasons import Reason

from ..codec import parse_date
from ..errors import FrameError
from ..fields import HOLD_MODE
from ..message import Message
from .base import Exchange, refusal_reply

REQUEST_ID = "15"


async def handle(ex: Exchange) -> Message:
    mode = HOLD_MODE.get(ex.request.fixed.get("hold_mode", ""))
    if mode is None or not ex.item:
        return _refused(ex, Reason.INVALID_REQUEST)
    if mode == "change":
        text = ex.catalog.text("hold_change_unsupported")
        return refusal_reply(ex.request, ex.catalog, text, institution=ex.terminal.institution_id, now=ex.now())
    if refusal := await ex.pin_refusal():
        return refusal
    key = ex.request_key(mode, ex.patron, ex.item, ex.field("BS"), ex.field("BW"))
    if mode == "delete":
        outcome = await ex.call("cancel_hold", ex.patron, item=ex.item, request_key=key)
    else:
        try:
            lapse = parse_date(ex.field("BW")) if ex.field("BW") else None
        except FrameError:
            return _refused(ex, Reason.INVALID_REQUEST)
        outcome = await ex.call("place_hold", ex.patron, item=ex.item, pickup_branch=ex.field("BS") or None,
                                lapse_on=lapse.date() if lapse else None, request_key=key)
    if not outcome.ok:
        return _refused(ex, outcome.reason or Reason.INVALID_REQUEST)
    info, _ = await ex.read("item_info", ex.item)
    reply = ex.reply(ok=ex.flag("ok", True), available=ex.flag("available", bool(info) and info["status"] == "available"))
    reply.add("AO", ex.terminal.institution_id).add("AA", ex.patron).add("AB", ex.item)
    reply.add("AJ", info["title"] if info else "")
    if mode == "add":
        reply.add("BR", outcome.data.get("queue_position", ""))
        if ex.field("BS"):
            reply.add("BS", ex.field("BS"))
        return ex.say(reply, "hold_placed", position=outcome.data.get("queue_position", ""))
    return ex.say(reply, "hold_cancelled")


def _refused(ex: Exchange, reason: Reason) -> Message:
    reply = ex.refuse(reason)
    reply.fixed["available"] = "N"
    return reply
