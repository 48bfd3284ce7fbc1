"""63 Patron Information -> 64: standing, item counts, and the one item list the summary asks for.

The summary's ``Y`` picks a list (AS hold items ready for pickup, AT overdue,
AU charged, AV fines, BU recalled, CD holds not yet available); BP/BQ give
the 1-based, inclusive range of that list to send.
"""

from __future__ import annotations

from typing import Any

from ..fields import summary_requests
from ..message import Message
from .base import Exchange
from .patron_view import load_account, standing_reply, status_flags

REQUEST_ID = "63"


def item_lists(account: dict[str, Any], currency: str) -> dict[str, list[str]]:
    """Every list field of a 64, in full."""
    loans, holds = account["loans"], account["holds"]
    return {
        "AS": [h["item"] or h["title"] for h in holds if h["status"] == "ready"],
        "AT": [loan["item"] for loan in loans if loan["overdue"]],
        "AU": [loan["item"] for loan in loans],
        "AV": [f"{fee['fee_id']} {fee['outstanding']} {currency} {fee['type']}" for fee in account["fees"]],
        "BU": [loan["item"] for loan in loans if loan["recalled"]],
        "CD": [h["title"] for h in holds if h["status"] != "ready"],
    }


def item_range(request: Message, size: int) -> slice:
    """BP..BQ (1-based, inclusive) as a slice; absent or unreadable bounds mean the whole list."""
    def bound(code: str, default: int) -> int:
        text = (request.get(code) or "").strip()
        return int(text) if text.isdigit() else default

    start, end = bound("BP", 1), bound("BQ", size)
    return slice(max(start, 1) - 1, max(end, 0))


async def handle(ex: Exchange) -> Message:
    account, missing = await load_account(ex, ex.patron)
    pin = await ex.pin_given() if account else None
    lists = item_lists(account, ex.currency) if account else {code: [] for code in ("AS", "AT", "AU", "AV", "BU", "CD")}
    reply = ex.reply(
        patron_status=status_flags(account), language=ex.catalog.sip2_code,
        hold_items_count=len(lists["AS"]), overdue_items_count=len(lists["AT"]),
        charged_items_count=len(lists["AU"]), fine_items_count=len(lists["AV"]),
        recall_items_count=len(lists["BU"]), unavailable_holds_count=len(lists["CD"]),
    )
    standing_reply(ex, reply, account, missing, pin)
    for code in summary_requests(ex.request.fixed.get("summary", "")):
        wanted = lists[code]
        for value in wanted[item_range(ex.request, len(wanted))]:
            reply.add(code, value)
    if account:
        if account.get("email"):
            reply.add("BE", account["email"])
        if account.get("phone"):
            reply.add("BF", account["phone"])
    return reply
