"""19 Item Status Update -> 20: change an item's attributes from its CH item properties (``Library.update_item``).

CH holds ``name=value`` pairs separated by ``;`` (``location=stacks-2;status=missing``);
a CH without ``=`` is taken as the item's new location, the common use.
"""

from __future__ import annotations

from ils_bridge.reasons import Reason

from ..message import Message
from .base import Exchange

REQUEST_ID = "19"
SETTABLE = frozenset({"location", "branch", "call_number", "collection", "classification", "language",
                      "copy_number", "volume", "status"})
"""Text attributes a terminal may set (the facade refuses statuses that circulation owns)."""


def item_changes(properties: str) -> dict[str, str] | None:
    """The attribute changes a CH value asks for, or None when it cannot be read."""
    text = properties.strip()
    if not text:
        return None
    if "=" not in text:
        return {"location": text}
    changes = {}
    for pair in filter(None, (p.strip() for p in text.split(";"))):
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            return None
        changes[name.strip()] = value.strip()
    return changes if set(changes) <= SETTABLE else None


async def handle(ex: Exchange) -> Message:
    changes = item_changes(ex.request.get("CH") or "")
    if changes is None:
        return ex.refuse(Reason.INVALID_REQUEST)
    outcome = await ex.call("update_item", ex.item, **changes)
    if not outcome.ok:
        return ex.refuse_outcome(outcome)
    info, _ = await ex.read("item_circulation", ex.item)
    reply = ex.reply(item_properties_ok=ex.flag("item_properties_ok", True))
    reply.add("AB", ex.item).add("AJ", info["title"] if info else "").add("CH", ex.request.get("CH") or "")
    return ex.say(reply, "item_updated")
