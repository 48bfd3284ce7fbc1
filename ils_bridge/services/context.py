"""What a service call works with: its connection, library, policy, calendar and clock."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, insert

from ils_bridge.calendar import LibraryCalendar
from ils_bridge.money import Currency, from_minor, parse_amount, round_to, to_minor
from ils_bridge.outcome import Fee, Refusal
from ils_bridge.reasons import Reason
from ils_bridge.storage import schema as s
from policies.model import Policy


@dataclass(frozen=True)
class LibraryRecord:
    id: int
    code: str
    name: str
    currency: Currency
    timezone: str
    language: str


@dataclass
class Ctx:
    conn: Connection
    library: LibraryRecord
    policy: Policy
    calendar: LibraryCalendar
    now: dt.datetime
    terminal: str | None = None
    actor: str | None = None
    fees: list[Fee] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)
    audit_lines: list[dict[str, Any]] = field(default_factory=list)

    @property
    def today(self) -> dt.date:
        return self.calendar.local_date(self.now)

    @property
    def currency(self) -> Currency:
        return self.library.currency

    @property
    def lock_rows(self) -> bool:
        """Row locks matter on PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers."""
        return self.conn.dialect.name == "postgresql"

    # -- money ----------------------------------------------------------
    def minor(self, amount: Decimal) -> int:
        return to_minor(amount, self.currency)

    def money(self, minor: int | None) -> Decimal | None:
        return None if minor is None else from_minor(minor, self.currency)

    def amount(self, value: object, currency_code: str | None = None, *, allow_zero: bool = False) -> Decimal:
        """Validate an amount given by a person or a terminal, in the library's currency."""
        if currency_code is not None and currency_code.upper() != self.currency.code:
            raise Refusal(Reason.WRONG_CURRENCY, f"amounts here are in {self.currency.code}, not {currency_code}")
        try:
            return parse_amount(value, self.currency, allow_zero=allow_zero)
        except ValueError as exc:
            raise Refusal(Reason.INVALID_AMOUNT, str(exc)) from None

    # -- bookkeeping ----------------------------------------------------------
    def ledger(self, patron_id: int, account: str, kind: str, amount_minor: int, **columns: Any) -> int:
        """Append one ledger entry (signed amount) and return its id."""
        row = {
            "library_id": self.library.id,
            "patron_id": patron_id,
            "account": account,
            "kind": kind,
            "amount_minor": amount_minor,
            "currency": self.currency.code,
            "created_at": self.now,
            "actor": self.actor or self.terminal,
            **columns,
        }
        return self.conn.execute(insert(s.ledger_entries).values(row)).inserted_primary_key[0]

    def charge(self, patron_id: int, fee_type: str, amount: Decimal, **columns: Any) -> int | None:
        """Charge a fee to the patron and remember it for the call's Outcome."""
        if amount <= 0:
            return None
        amount = round_to(amount, self.currency)
        entry = self.ledger(patron_id, "fees", "charge", self.minor(amount), fee_type=fee_type, **columns)
        self.fees.append(Fee(fee_type, amount, self.currency.code, entry))
        return entry

    def audit(self, op: str, *, patron_id: int | None, item_id: int | None, ok: bool, reason: Reason | None = None,
              rule: str | None = None, policy_version: int | None = None) -> None:
        """Log one more transaction line with the call's own (a renew-all logs each renewal as a ``renew``)."""
        self.audit_lines.append({"op": op, "patron_id": patron_id, "item_id": item_id, "ok": ok,
                                 "reason": reason.value if reason else None, "rule_id": rule,
                                 "policy_version": policy_version or self.policy.version})

    def notify(self, patron_id: int, kind: str, dedupe: str, **payload: Any) -> None:
        """Queue a notice for the patron; delivered later through the outbox (at most once per dedupe key)."""
        self.notices.append({"patron_id": patron_id, "kind": kind, "dedupe": dedupe, "payload": payload})
