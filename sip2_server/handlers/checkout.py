"""11 Checkout -> 12.

- no block (``Y``): the SC lent the item while offline and replays it now.
  The item has left the building, so the loan is recorded even where the
  policy would refuse (``no_block=True``), made at the request's transaction
  date (``at=``), without checking the patron's password (AD).  The reply
  says ok with the due date; a refusal the facade overrode leads the screen
  message (AF, AG) so staff notice it.
- renewal via checkout: when the terminal's settings allow it, checking out
  an item the patron already has renews it (``renew_if_own``); 12 then says
  renewal ok.
- a resent checkout (same terminal, patron, item, transaction date) is
  answered from the first outcome, never lent twice.
"""

from __future__ import annotations

from ils_bridge.reasons import Reason

from ..message import Message
from .base import Exchange
from .mapping import fee_type

REQUEST_ID = "11"


async def handle(ex: Exchange) -> Message:
    no_block = ex.request.fixed.get("no_block") == "Y"
    if not no_block and (refusal := await ex.pin_refusal()):
        return refusal  # a no-block loan is made already: the SC could not check the password offline either
    outcome = await ex.call(
        "checkout", ex.patron, ex.item, renew_if_own=ex.terminal.settings.renew_via_checkout, no_block=no_block,
        at=ex.offline_time(), request_key=ex.request_key(ex.patron, ex.item, ex.request.fixed.get("no_block")),
    )
    if not outcome.ok:
        reply = ex.refuse_outcome(outcome)
        reply.fixed["renewal_ok"] = "N"
        reply.fixed["desensitize"] = "N"
        return reply
    renewal = bool(outcome.data.get("renewal"))
    title = await ex.title(outcome.data.get("title_id"), ex.item)
    reply = ex.reply(ok=ex.flag("ok", True), renewal_ok=ex.flag("renewal_ok", renewal), magnetic_media="N",
                     desensitize="Y")
    reply.add("AO", ex.terminal.institution_id).add("AA", ex.patron).add("AB", ex.item)
    reply.add("AJ", title).add("AH", ex.due_text(outcome.due))
    if outcome.fees:
        total = sum(f.amount for f in outcome.fees)
        reply.add("BT", fee_type(outcome.fees[0].type)).add("BH", ex.currency).add("BV", ex.amount(total))
    if overridden := outcome.data.get("overridden"):
        ex.screen(reply, Reason(overridden["reason"]))
    ex.say(reply, "renewed" if renewal else "checked_out", title=title, due=ex.local(outcome.due).date().isoformat())
    return reply
