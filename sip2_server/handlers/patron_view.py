"""A patron's account as SIP2 shows it: the 14 status flags, name, fees, validity and password checks.

Shared by 23 Patron Status, 63 Patron Information, 25 Patron Enable and 01
Block Patron (which all answer with a patron's standing).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ils_bridge.reasons import Reason

from ..fields import patron_status
from ..message import Message
from .base import Exchange, PinCheck

DENIED_BY_STANDING = ("charge privileges denied", "renewal privileges denied", "recall privileges denied",
                      "hold privileges denied")


def status_flags(account: dict[str, Any] | None) -> str:
    """The 14-character patron status: standing, lost card, overdue and recalled loans, fees owed."""
    if account is None:
        return patron_status(*DENIED_BY_STANDING)
    denied: set[str] = set()
    standing = account["standing"]
    if standing is not None:
        denied.update(DENIED_BY_STANDING)
        if standing["reason"] == Reason.CARD_EXPIRED.value:
            denied.discard("renewal privileges denied")  # expired cards may still renew
        if standing["reason"] == Reason.CARD_LOST.value:
            denied.add("card reported lost")
    overdue = [loan for loan in account["loans"] if loan["overdue"]]
    if overdue:
        denied.add("too many items overdue")
    if any(loan["recalled"] for loan in overdue):
        denied.add("recall overdue")
    fee_types = {fee["type"] for fee in account["fees"]}
    if "overdue" in fee_types:
        denied.add("excessive outstanding fines")
    if fee_types - {"overdue"}:
        denied.add("excessive outstanding fees")
    return patron_status(*denied)


async def load_account(ex: Exchange, patron: str) -> tuple[dict[str, Any] | None, Reason | None]:
    return await ex.read("patron_account", patron)


def standing_reply(ex: Exchange, reply: Message, account: dict[str, Any] | None, missing: Reason | None,
                   pin: PinCheck | None) -> Message:
    """Fill AO, AA, AE, BL, CQ, BH, BV, AF, AG of a 24/26/64 reply from the account."""
    reply.add("AO", ex.terminal.institution_id)
    reply.add("AA", ex.patron)
    reply.add("AE", account["name"] if account else "")
    reply.add("BL", "Y" if account else "N")
    if pin is not None:
        reply.add("CQ", "Y" if pin is PinCheck.VALID else "N")
    if account is None:
        return ex.screen(reply, missing or Reason.UNKNOWN_PATRON)
    owed = Decimal(account["fees_owed"])
    if owed > 0:
        reply.add("BH", ex.currency)
        reply.add("BV", ex.amount(owed))
    if pin is PinCheck.INVALID:
        ex.screen(reply, Reason.BAD_PIN)
    elif pin is PinCheck.UNAVAILABLE:
        ex.screen(reply, Reason.AUTH_UNAVAILABLE)
    if account["standing"] is not None:
        ex.screen(reply, Reason(account["standing"]["reason"]))
    if owed > 0:
        ex.say(reply, "fees_owed", amount=ex.amount(owed), currency=ex.currency)
    return reply
