"""Which events the memory engine mirrors exactly; the SQL engine replays the others.

``Replay`` checks each batch of events just before the memory engine replays
it (``MirrorCheck``); at the first batch it does not mirror, the replay moves
to the SQL engine.  ``replayable_in_memory`` checks a whole scenario up front,
for ``engine="memory"``.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import chain, repeat
from typing import Any

from ils_bridge.simulation.events import OPS
from ils_bridge.simulation.memory import MEMORY_OPS

TEXT_FIELDS = frozenset(("id", "type", "group", "field", "name", "card", "card_kind", "card_expires", "package", "barcode",
                         "material", "title_name", "collection", "language", "classification", "branch", "location",
                         "currency", "patron", "item", "date", "from", "to", "kind", "lapse_on"))
INT_FIELDS = frozenset(("pub_year", "volumes_in_set", "copies"))
BOOL_FIELDS = frozenset(("closed_stack", "important_work", "renew_if_own"))
NOT_TEXT_FIELDS = INT_FIELDS | BOOL_FIELDS
KNOWN_OPS = frozenset(OPS)
# Events of these ops whose fields are all plain text, none of them ``NOT_TEXT_ONLY_FIELDS``, the memory
# engine mirrors without looking further (a patron's numbers must also be new; a ``pay`` must not name a ``fee``).
TEXT_ONLY_OPS = MEMORY_OPS - {"patron"}
NOT_TEXT_ONLY_FIELDS = NOT_TEXT_FIELDS | {"fee"}


class MirrorCheck:
    """Whether the memory engine mirrors a scenario's events exactly, asked a batch at a time, in order.

    It does for the ops in ``MEMORY_OPS`` written plainly: no null fields,
    text without surrounding blanks, whole numbers and booleans where the
    format has them, ``pay`` without a named ``fee`` (ledger entry ids are
    the database's), and patron numbers and card numbers that are all
    distinct (so every identifier names one patron).  Lines that are not
    JSON objects, and unknown ops, are refused alike by both engines.
    """

    def __init__(self) -> None:
        self.identifiers: set[str] = set()  # the patron and card numbers of the batches so far

    def unmirrored(self, events: list[Any]) -> int | None:
        """The position in this batch (the next one of the scenario) of the first event the memory engine does
        not mirror; None when it mirrors them all."""
        if _text_only(events):
            return None
        for position, event in enumerate(events):
            if not _mirrored(event, self.identifiers):
                return position
        return None


def replayable_in_memory(batches: Iterable[list[Any]]) -> bool:
    """Whether the memory engine mirrors every event of this scenario (given in batches) exactly."""
    check = MirrorCheck()
    return all(check.unmirrored(events) is None for events in batches)


def _text_only(events: list[Any]) -> bool:
    """Whether the batch holds only JSON objects of ``TEXT_ONLY_OPS`` with only plain text, in ordinary fields.

    The memory engine mirrors such a batch, and most batches are such: this asks in a few calls into C, where
    ``_mirrored`` costs about a microsecond an event.  ``str.strip`` returns the very same string when there
    is nothing to strip, so the two lists compare equal by identity.
    """
    try:
        ops = {*map(dict.get, events, repeat("op"))}
        values = [*chain.from_iterable(map(dict.values, events))]
        stripped = [*map(str.strip, values)]
    except TypeError:  # an unreadable line, an unhashable op, or a value that is not text
        return False
    return (ops <= TEXT_ONLY_OPS and stripped == values and "" not in values
            and NOT_TEXT_ONLY_FIELDS.isdisjoint(chain.from_iterable(events)))


def _mirrored(event: Any, identifiers: set[str]) -> bool:
    """Whether the memory engine mirrors this event; ``identifiers`` are the patron and card numbers so far."""
    if event.__class__ is not dict:
        return True  # an unreadable line: refused alike by both engines
    op = event.get("op")
    if op.__class__ is not str or op not in KNOWN_OPS:
        return True  # refused alike
    if op not in MEMORY_OPS or (op == "pay" and "fee" in event):
        return False
    if not all(plain(key, value) for key, value in event.items()):
        return False
    if op == "patron" and "id" in event:
        names = {event["id"], event.get("card", event["id"])}
        if names & identifiers:
            return False
        identifiers |= names
    return True


def plain(key: str, value: Any) -> bool:
    """Whether one field is written as the memory engine reads it."""
    if value.__class__ is str:
        return value != "" and value == value.strip() and key not in NOT_TEXT_FIELDS
    if value is None:
        return False
    if key in TEXT_FIELDS:
        return isinstance(value, str)
    if key in INT_FIELDS:
        return isinstance(value, int) and not isinstance(value, bool)
    if key in BOOL_FIELDS:
        return isinstance(value, bool)
    if key == "title":
        return isinstance(value, (str, int)) and not isinstance(value, bool)
    return True
