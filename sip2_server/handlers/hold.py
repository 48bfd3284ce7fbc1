"""15 Hold -> 16: place (+), cancel (-) or change (*) a patron's hold on the title of an item (AB).

- BS pickup location -> ``pickup_branch``; BW expiration date (the patron's
  "not needed after" date, only where the policy takes one) -> ``lapse_on``,
  read in the library's timezone.
- change (``*``): ``Library.change_hold`` changes the pickup branch and/or the
  lapse date in place, so the hold keeps its place in the queue.  A change
  naming neither is refused (``invalid_request``).
"""

from __future__ import annotations

import datetime as dt

from ils_bridge.outcome import Outcome
from ils_bridge.reasons import Reason

from ..errors import FrameError
from ..fields import HOLD_MODE
from ..message import Message
from .base import Exchange

REQUEST_ID = "15"
DONE_TEXT = {"add": "hold_placed", "delete": "hold_cancelled", "change": "hold_changed"}


def lapse_date(ex: Exchange) -> dt.date | None:
    """BW as a date in the library's timezone (None when absent); raises FrameError when unreadable."""
    moment = ex.field_time("BW")
    return None if moment is None else moment.astimezone(ex.zone).date()


async def handle(ex: Exchange) -> Message:
    mode = HOLD_MODE.get(ex.request.fixed.get("hold_mode", ""))
    if mode is None or not ex.item:
        return _refused(ex, Reason.INVALID_REQUEST)
    try:
        lapse_on = lapse_date(ex)
    except FrameError:
        return _refused(ex, Reason.INVALID_REQUEST)
    if refusal := await ex.pin_refusal():
        return refusal
    outcome = await _act(ex, mode, lapse_on, ex.field("BS") or None)
    if not outcome.ok:
        return _refused(ex, outcome.reason or Reason.INVALID_REQUEST)
    info, _ = await ex.read("item_circulation", ex.item)
    reply = ex.reply(ok=ex.flag("ok", True), available=ex.flag("available", bool(info) and info["status"] == "available"))
    if mode != "delete" and lapse_on is not None:
        reply.add("BW", ex.request.get("BW") or "")
    position = outcome.data.get("queue_position", "")
    if mode == "add":
        reply.add("BR", position)
    if mode != "delete" and ex.field("BS"):
        reply.add("BS", ex.field("BS"))
    reply.add("AO", ex.terminal.institution_id).add("AA", ex.patron).add("AB", ex.item)
    reply.add("AJ", info["title"] if info else "")
    return ex.say(reply, DONE_TEXT[mode], position=position)


async def _act(ex: Exchange, mode: str, lapse_on: dt.date | None, pickup_branch: str | None) -> Outcome:
    key = ex.request_key(mode, ex.patron, ex.item, ex.field("BS"), ex.field("BW"))
    if mode == "delete":
        return await ex.call("cancel_hold", ex.patron, item=ex.item, request_key=key)
    method = "change_hold" if mode == "change" else "place_hold"
    return await ex.call(method, ex.patron, item=ex.item, lapse_on=lapse_on, pickup_branch=pickup_branch,
                         request_key=key)


def _refused(ex: Exchange, reason: Reason) -> Message:
    reply = ex.refuse(reason)
    reply.fixed["available"] = "N"
    return reply
