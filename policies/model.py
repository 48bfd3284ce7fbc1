"""The policy model: what a loaded policy file is.

The file format is documented in docs/policy-language.md and its structure
in ``policies/schema.json``; ``policies.loader`` turns a file into these
objects after validating it.  Amounts are Decimal in the library's currency.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ils_bridge.calendar import Closure
from ils_bridge.money import Currency
from policies.matcher import Rule, RuleSet

# Facts a rule may test, and where they come from.
PATRON_FACTS = ("patron_type", "patron_group", "package", "card_kind")
ITEM_FACTS = (
    "material",
    "collection",
    "language",
    "classification",
    "class",
    "branch",
    "location",
    "pub_year",
    "closed_stack",
    "copies",
)
ALL_FACTS = PATRON_FACTS + ITEM_FACTS

RENEWAL_BLOCKS = ("overdue", "on_hold", "fines_owed", "card_expired", "recalled")
BORROWING_BLOCKS = ("fines_owed", "overdue_items")


@dataclass(frozen=True)
class LibraryInfo:
    code: str
    name: str
    currency: Currency
    timezone: str
    language: str


@dataclass(frozen=True)
class CalendarPolicy:
    weekly_closed: frozenset[int]
    opening_hours: dict[int, tuple[str, str]]
    closures: tuple[Closure, ...]
    due_dates_avoid_closed: bool


@dataclass(frozen=True)
class ClassRule(Rule):
    """Derives the item fact ``class`` (e.g. social vs natural science) from other item facts."""

    item_class: str = ""


@dataclass(frozen=True)
class LoanRule(Rule):
    loanable: bool = True
    reason: str = "not_loanable"
    period_days: int = 0
    renewals: int = 0
    renew_from: str = "renewal_day"  # renewal_day | due_date
    renew_before_due_only: bool = True
    renew_refused_if: tuple[str, ...] = ()
    min_copies: int = 1


@dataclass(frozen=True)
class LimitRule(Rule):
    """At most ``max_items`` loans (and/or ``max_value`` total price) among items matching ``counts``."""

    counts: Any = None  # Conditions on item facts; None counts every loan
    max_items: int | None = None
    max_value: Decimal | None = None
    value_reason: str = "limit_reached"

    @property
    def group(self) -> str:
        return self.counts.describe() if self.counts is not None else "all loans"


@dataclass(frozen=True)
class Package:
    code: str
    price: Decimal
    valid_days: int
    max_items: int
    max_value: Decimal | None


@dataclass(frozen=True)
class BorrowingPolicy:
    refuse_if: tuple[str, ...]
    fines_threshold: Decimal


@dataclass(frozen=True)
class HoldPolicy:
    allowed_when: str  # checked_out | always | never
    shelf_days: int
    shelf_paused_by: tuple[str, ...]
    patron_lapse_date: bool
    recall_notice: bool
    max_per_patron: int | None


@dataclass(frozen=True)
class FineRule(Rule):
    per_day: Decimal | None = None
    flat: Decimal | None = None
    cap: Decimal | None = None


@dataclass(frozen=True)
class GraceRule:
    closure: str  # holiday | vacation | closed
    days_after: int


@dataclass(frozen=True)
class FinePolicy:
    rules: RuleSet[FineRule]
    grace: tuple[GraceRule, ...]
    grace_counts_from: str  # due_date | closure_end


@dataclass(frozen=True)
class LostRule(Rule):
    multiple: Decimal = Decimal(1)


@dataclass(frozen=True)
class LostPolicy:
    rules: RuleSet[LostRule]
    base_value: str  # price | replacement_value_or_price
    first_reader_surcharge: Decimal
    processing_fee: Decimal | None  # None: entered by staff for each case
    replacement_copy_fee: Decimal
    include_overdue_fine: bool
    refund_within_days: int | None
    refund_fee: Decimal
    multiple_range: tuple[Decimal, Decimal] | None  # staff choose within
    multi_volume: str  # set_share | volume_price


@dataclass(frozen=True)
class DamageKind:
    id: str
    amount: Decimal
    per_unit: bool
    cap_at_price: bool
    cleanable_factor: Decimal | None
    rebinding: bool


@dataclass(frozen=True)
class DamageMultiplier(Rule):
    multiple: Decimal = Decimal(1)
    uncapped: bool = False
    applies_to: tuple[str, ...] = ()


@dataclass(frozen=True)
class DamagePolicy:
    kinds: dict[str, DamageKind]
    rebinding: dict[str, Decimal]
    multipliers: RuleSet[DamageMultiplier]


@dataclass(frozen=True)
class TheftRule(Rule):
    multiple: Decimal = Decimal(1)


@dataclass(frozen=True)
class DepositRule(Rule):
    amount: Decimal = Decimal(0)


@dataclass(frozen=True)
class DepositPolicy:
    required: RuleSet[DepositRule]
    deduction_after_days: int | None
    deduction_percent_per_day: Decimal
    recall_notices_before_apply: int | None


@dataclass(frozen=True)
class CardKind:
    kind: str
    fee: Decimal
    validity_days: int | None  # None: set by staff (e.g. follows the study programme)
    loans: bool


@dataclass(frozen=True)
class GroupCardPolicy:
    fee_per_unit: Decimal
    validity_days: int
    discount_members_below: int | None
    discount_percent: Decimal
    discount_approval: str | None


@dataclass(frozen=True)
class CardPolicy:
    kinds: dict[str, CardKind]
    replacement: str  # same_number | new_number
    replacement_fee: Decimal
    ban_months: tuple[int, int] | None
    group: GroupCardPolicy | None


@dataclass(frozen=True)
class IllPolicy:
    subsidy_percent: Decimal
    subsidy_only_within_field: bool


@dataclass(frozen=True)
class Policy:
    library: LibraryInfo
    vocabulary: dict[str, tuple[str, ...]]
    calendar: CalendarPolicy
    classes: RuleSet[ClassRule]
    loans: RuleSet[LoanRule]
    limits: tuple[LimitRule, ...]
    packages: dict[str, Package]
    borrowing: BorrowingPolicy
    holds: HoldPolicy
    fines: FinePolicy
    lost: LostPolicy
    damage: DamagePolicy
    theft: RuleSet[TheftRule]
    deposits: DepositPolicy
    cards: CardPolicy
    registration_approval: bool
    waiver_approvals: tuple[str, ...]
    ill: IllPolicy
    notices: dict[str, Any] = field(default_factory=dict)
    source: str = ""  # the document as written
    version: int = 0  # set when applied to a library

    @property
    def currency(self) -> Currency:
        return self.library.currency
