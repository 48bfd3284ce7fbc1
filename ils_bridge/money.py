"""Money: Decimal amounts in a currency's minor units.

Amounts are never floats.  Storage keeps an integer count of minor units
(fen for CNY, dong for VND which has none); computations (a 5.5x multiple, a
10% deduction) are rounded half-up to the currency's minor unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# ISO 4217 minor units of the currencies we meet; extend as libraries join.
MINOR_UNITS: dict[str, int] = {
    "CNY": 2,
    "VND": 0,
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "JPY": 0,
    "KRW": 0,
    "HKD": 2,
    "TWD": 2,
}


class InvalidAmount(ValueError):
    """An amount that is not a valid sum of money in its currency."""


class UnknownCurrency(ValueError):
    """A currency code the system does not know."""


@dataclass(frozen=True)
class Currency:
    code: str
    minor_units: int

    @property
    def quantum(self) -> Decimal:
        return Decimal(1).scaleb(-self.minor_units)


def currency(code: str) -> Currency:
    code = code.upper()
    if code not in MINOR_UNITS:
        raise UnknownCurrency(f"unknown currency {code!r}")
    return Currency(code, MINOR_UNITS[code])


def round_to(amount: Decimal, cur: Currency) -> Decimal:
    """Round a computed amount half-up to the currency's minor unit."""
    return amount.quantize(cur.quantum, rounding=ROUND_HALF_UP)


def to_minor(amount: Decimal, cur: Currency) -> int:
    """Decimal -> integer minor units; refuses amounts finer than the minor unit."""
    scaled = amount.scaleb(cur.minor_units)
    if scaled != scaled.to_integral_value():
        raise InvalidAmount(f"{amount} has more than {cur.minor_units} decimal places for {cur.code}")
    return int(scaled)


def from_minor(minor: int, cur: Currency) -> Decimal:
    return round_to(Decimal(minor).scaleb(-cur.minor_units), cur)


def parse_amount(value: object, cur: Currency, *, allow_zero: bool = False) -> Decimal:
    """Parse user or wire input into an exact amount.

    Accepts Decimal, int or a plain decimal string ("12.50").  Rejects floats
    (inexact), negatives, over-precise amounts ("0.123" CNY, "1.5" VND), and
    zero unless allowed.
    """
    if isinstance(value, bool) or isinstance(value, float):
        raise InvalidAmount(f"amount {value!r} must be given exactly, as a decimal string")
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidAmount(f"{value!r} is not a number") from None
    if not amount.is_finite():
        raise InvalidAmount(f"{value!r} is not a finite amount")
    if amount < 0:
        raise InvalidAmount(f"amount {value} is negative")
    if amount == 0 and not allow_zero:
        raise InvalidAmount("amount must be greater than zero")
    to_minor(amount, cur)
    return round_to(amount, cur)


def format_amount(amount: Decimal, cur: Currency) -> str:
    """The canonical string form: fixed minor-unit places, no separators."""
    return str(round_to(amount, cur))
