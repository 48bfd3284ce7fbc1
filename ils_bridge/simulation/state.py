"""The library as the memory engine keeps it: plain objects instead of table rows.

Only what the mirrored ops read or change is kept.  Money is in minor units
(ints), as the ledger stores it.
"""

from __future__ import annotations

import datetime as dt
from bisect import insort
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from ils_bridge.calendar import Closure, LibraryCalendar
from ils_bridge.reasons import Reason
from policies.decisions import CurrentLoan


class RememberingCalendar(LibraryCalendar):
    """A calendar that remembers each day's next open day until a closure is added (due dates ask it often)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.open_from: dict[dt.date, dt.date] = {}

    def add_closure(self, closure: Closure) -> None:
        super().add_closure(closure)
        self.open_from.clear()

    def next_open_day(self, day: dt.date) -> dt.date:
        known = self.open_from.get(day)
        if known is None:
            known = self.open_from[day] = super().next_open_day(day)
        return known


@dataclass(slots=True)
class Card:
    number: str
    kind: str
    valid_until: dt.date | None


@dataclass(slots=True)
class Charge:
    """An open charge on the fees account; ordered as ``open_charges`` orders them (created, then id)."""

    created_at: dt.datetime
    seq: int
    fee_type: str
    outstanding: int

    def __lt__(self, other: Charge) -> bool:
        return (self.created_at, self.seq) < (other.created_at, other.seq)


class PatronDay(NamedTuple):
    """A patron as one day's decisions see them: their facts, and why they may not transact that day (if so)."""

    day: dt.date
    facts: dict[str, Any]
    standing: Reason | None


@dataclass(slots=True)
class Patron:
    number: str
    patron_type: str
    patron_group: str | None
    card: Card | None = None
    package: str | None = None
    package_until: dt.date | None = None
    fees: int = 0  # balance of the fees account: owed by the patron when positive
    deposit: int = 0  # balance of the deposit account
    deposit_taken: int = 0  # takes less refunds: the base of percentage deductions
    charges: list[Charge] = field(default_factory=list)  # open charges only
    loans: dict[int, Loan] = field(default_factory=dict)  # active loans by id
    holds: dict[int, Hold] = field(default_factory=dict)  # open holds (waiting or ready) by id
    day: PatronDay | None = None  # the patron as decisions saw them on one day (``MemorySimulation.patron_day``)

    def add_charge(self, charge: Charge) -> None:
        insort(self.charges, charge)


@dataclass(slots=True)
class Item:
    barcode: str
    title: int
    attributes: dict[str, Any]  # the unclassified facts a loan is counted by (no copies)
    price: Decimal | None
    status: str = "available"
    times_loaned: int = 0
    loan: Loan | None = None
    trapped: Hold | None = None  # the ready hold this copy waits on the hold shelf for
    counted: CurrentLoan | None = None  # a loan of it as limits count it (``MemorySimulation.counted``)
    facts_for: tuple[int, dict[str, Any]] | None = None  # (copies, classified facts with copies)


@dataclass(slots=True)
class Loan:
    id: int
    patron: Patron
    item: Item
    due: dt.date
    rule_id: str
    terms: dict[str, Any]
    counted: CurrentLoan  # the loan as borrowing limits count it
    renewals: int = 0
    deposit_deducted_days: int = 0
    recalled: bool = False


@dataclass(slots=True)
class Hold:
    """A hold on a title (or on one copy); ``item`` is that copy, or the copy trapped for it once ready."""

    id: int
    patron: Patron
    title: int
    item: Item | None
    placed_at: dt.datetime
    lapse_on: dt.date | None
    status: str = "waiting"  # waiting | ready, while open
    shelf_expires_on: dt.date | None = None

    @property
    def queue_order(self) -> tuple[dt.datetime, int]:
        return self.placed_at, self.id
