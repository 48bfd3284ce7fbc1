"""09 Checkin -> 10: return an item; trap it for the next hold; tell a sorter where it goes.

- return date: the loan ends then (``returned_at``), so a book dropped in the
  return box overnight is not fined for the night;
- no block (``Y``): an offline return replayed later, at its transaction date;
- a trapped hold: alert ``Y``, CV alert type (01 hold here, 02 hold for
  another branch), CT destination (the pickup branch) and a screen message;
- CL sort bin: the destination branch (or ``hold``) looked up in the
  server's per-library sort bins and the terminal's own.
"""

from __future__ import annotations

from typing import Any

from ..message import Message
from .base import Exchange

REQUEST_ID = "09"
ALERT_HOLD_HERE, ALERT_HOLD_ELSEWHERE, ALERT_NONE = "01", "02", "00"


def sort_bin(ex: Exchange, destination: str | None, trapped: bool) -> str | None:
    bins = {**ex.backend.settings.sort_bins.get(ex.library.code, {}), **ex.terminal.settings.sort_bins}
    if trapped and "hold" in bins:
        return bins["hold"]
    return bins.get(destination or "", bins.get("default"))


def here(ex: Exchange) -> str:
    """The branch this terminal stands in: its setting, else the request's current location (AP)."""
    return ex.terminal.settings.branch or ex.field("AP")


async def handle(ex: Exchange) -> Message:
    offline_at = ex.offline_time()
    returned = ex.wire_time("return_date") or offline_at
    if returned is not None and returned > ex.backend.app.clock.now():
        returned = None  # a terminal clock running ahead must not fine anyone
    outcome = await ex.call("checkin", ex.item, returned_at=returned, at=offline_at,
                            request_key=ex.request_key(ex.item, ex.request.fixed.get("return_date")))
    if not outcome.ok:
        reply = ex.refuse_outcome(outcome)
        reply.fixed["resensitize"] = "Y"  # a returned item that was not on loan still belongs on the shelf
        return reply
    hold = outcome.data.get("hold")
    home = outcome.data.get("branch")
    destination = hold["pickup_branch"] if hold else home
    reply = ex.reply(ok=ex.flag("ok", True), resensitize="Y", magnetic_media="N", alert=ex.flag("alert", hold is not None))
    reply.add("AO", ex.terminal.institution_id).add("AB", ex.item).add("AQ", home or "")
    title = await ex.title(outcome.data.get("title_id"), ex.item)
    reply.add("AJ", title)
    if (bin_ := sort_bin(ex, destination, hold is not None)) is not None:
        reply.add("CL", bin_)
    if hold is not None:
        route_hold(ex, reply, hold, destination)
    elif ex.terminal.settings.send_cv_ct_always:
        reply.add("CT", destination or "").add("CV", ALERT_NONE)
    if outcome.fees:
        ex.say(reply, "fee_charged", amount=ex.amount(sum(f.amount for f in outcome.fees)), currency=ex.currency)
    return ex.say(reply, "checked_in", title=title)


def route_hold(ex: Exchange, reply: Message, hold: dict[str, Any], destination: str | None) -> None:
    """Tell the terminal the item is trapped for a hold: where it goes (CT, CV), for whom (CY), and say so."""
    elsewhere = bool(destination) and bool(here(ex)) and destination != here(ex)
    reply.add("CT", destination or "").add("CV", ALERT_HOLD_ELSEWHERE if elsewhere else ALERT_HOLD_HERE)
    reply.add("CY", hold["patron"])
    ex.say(reply, "hold_in_transit" if elsewhere else "hold_trapped", patron=hold["patron_name"], branch=destination or "")
