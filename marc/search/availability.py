"""Live copy status: the interface OPAC adapters read holdings through.

The circulation services own the truth (``Library.availability``); the SRU
and Z39.50 adapters only need ``HoldingsSource.copies``, so a test or the
real wiring can supply any implementation.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from ils_bridge.app import Library


class CopyState(str, enum.Enum):
    ON_SHELF = "available"
    CHECKED_OUT = "checked_out"
    ON_HOLD_SHELF = "on_hold_shelf"
    IN_LIBRARY_ONLY = "in_library_only"
    UNAVAILABLE = "unavailable"  # lost, missing, withdrawn, in transit


@dataclass(frozen=True)
class CopyStatus:
    barcode: str
    state: CopyState
    due: dt.datetime | None = None  # for checked-out copies
    branch: str | None = None
    location: str | None = None
    call_number: str | None = None
    copy_number: str | None = None
    volume: str | None = None
    note: str | None = None  # e.g. "missing", "in transit"

    @property
    def available_now(self) -> bool:
        return self.state in (CopyState.ON_SHELF, CopyState.IN_LIBRARY_ONLY)

    @property
    def loanable(self) -> bool:
        return self.state is not CopyState.IN_LIBRARY_ONLY


class HoldingsSource(Protocol):
    def copies(self, record_ids: Sequence[int]) -> dict[int, list[CopyStatus]]:
        """Every copy of each record, with its live status (records without copies may be absent)."""
        ...


class NoHoldings:
    """A holdings source for catalogues without copies."""

    def copies(self, record_ids: Sequence[int]) -> dict[int, list[CopyStatus]]:
        return {}


# Item statuses (ils_bridge.services.items.ITEM_STATUSES) an OPAC shows, and how.
# Withdrawn copies are no longer holdings and are left out.
_STATES = {
    "available": CopyState.ON_SHELF,
    "checked_out": CopyState.CHECKED_OUT,
    "on_hold_shelf": CopyState.ON_HOLD_SHELF,
    "lost": CopyState.UNAVAILABLE,
    "missing": CopyState.UNAVAILABLE,
    "in_transit": CopyState.UNAVAILABLE,
}
_NOTES = {"lost": "lost", "missing": "missing", "in_transit": "in transit"}


def copy_status(copy: dict[str, Any], timezone: dt.tzinfo) -> CopyStatus | None:
    """One copy dict of ``Library.availability`` as the OPAC sees it (None: not shown).
    The due time is given in the library's timezone, so its date is the one on the slip."""
    state = _STATES.get(copy["status"])
    if state is None:
        return None
    if state is CopyState.ON_SHELF and copy.get("in_library_only"):
        state = CopyState.IN_LIBRARY_ONLY
    due = copy.get("due") if state is CopyState.CHECKED_OUT else None
    return CopyStatus(
        barcode=copy["barcode"],
        state=state,
        due=due.astimezone(timezone) if due else None,
        branch=copy.get("branch"),
        location=copy.get("location"),
        call_number=copy.get("call_number"),
        copy_number=copy.get("copy_number"),
        volume=copy.get("volume"),
        note=_NOTES.get(copy["status"]),
    )


class LibraryHoldings:
    """Live copy status read through the circulation services (``Library.availability``).

    Nothing is cached: each call is one read transaction, so a checkout or
    checkin through any adapter shows in the next OPAC response.
    """

    def __init__(self, library: Library) -> None:
        self.library = library
        self.timezone = ZoneInfo(library.record.timezone)

    def copies(self, record_ids: Sequence[int]) -> dict[int, list[CopyStatus]]:
        if not record_ids:
            return {}
        found = self.library.availability(record_ids)
        out: dict[int, list[CopyStatus]] = {}
        for record_id, copies in found.items():
            shown = [status for status in (copy_status(c, self.timezone) for c in copies) if status is not None]
            if shown:
                out[record_id] = shown
        return out
