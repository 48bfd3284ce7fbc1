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
from typing import Protocol


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
