"""37 Fee Paid -> 38: record a payment (``Library.pay``) in the library's currency only.

CG (fee identifier) names one charge (the fee ids of 64's AV lines);
without it the payment settles the oldest charges first.  BK (transaction
id) is echoed.  A resent payment is recorded once.
"""

from __future__ import annotations

from ils_bridge.reasons import Reason

from ..message import Message
from .base import Exchange
from .mapping import PAYMENT_TYPES

REQUEST_ID = "37"


async def handle(ex: Exchange) -> Message:
    if refusal := await ex.pin_refusal():
        return refusal
    currency = ex.request.fixed.get("currency_type", "").strip()
    payment_type = PAYMENT_TYPES.get(ex.request.fixed.get("payment_type", ""), "other")
    fee_id = ex.field("CG")
    if fee_id and not fee_id.isdigit():
        return _refused(ex, Reason.UNKNOWN_FEE)
    outcome = await ex.call(
        "pay", ex.patron, ex.field("BV"), currency or None, fee_id=int(fee_id) if fee_id else None,
        payment_type=payment_type,
        request_key=ex.request_key(ex.patron, ex.field("BV"), currency, fee_id, ex.field("BK"),
                                   ex.request.fixed.get("fee_type"), ex.request.fixed.get("payment_type")),
    )
    if not outcome.ok:
        return _refused(ex, outcome.reason or Reason.INVALID_REQUEST)
    reply = ex.reply(payment_accepted="Y")
    reply.add("AO", ex.terminal.institution_id).add("AA", ex.patron)
    if ex.field("BK"):
        reply.add("BK", ex.field("BK"))
    return ex.say(reply, "payment_accepted", amount=ex.amount(outcome.data.get("paid")), currency=ex.currency)


def _refused(ex: Exchange, reason: Reason) -> Message:
    reply = ex.refuse(reason)
    if ex.field("BK"):
        reply.add("BK", ex.field("BK"))
    return reply
