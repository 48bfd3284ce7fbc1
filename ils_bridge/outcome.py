"""What every service call returns."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ils_bridge.reasons import Reason


@dataclass(frozen=True)
class Fee:
    """A charge made by one call: its type (overdue, lost, processing, ...) and amount."""

    type: str
    amount: Decimal
    currency: str
    entry_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "amount": str(self.amount), "currency": self.currency}


@dataclass(frozen=True)
class Outcome:
    ok: bool
    reason: Reason | None = None
    message: str = ""
    rule: str | None = None
    policy_version: int | None = None
    due: dt.datetime | None = None
    fees: tuple[Fee, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe form, also what idempotency keys replay."""
        return {
            "ok": self.ok,
            "reason": self.reason.value if self.reason else None,
            "message": self.message,
            "rule": self.rule,
            "policy_version": self.policy_version,
            "due": self.due.isoformat() if self.due else None,
            "fees": [dict(f.to_json(), entry_id=f.entry_id) for f in self.fees],
            "data": _jsonable(self.data),
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> "Outcome":
        return cls(
            ok=doc["ok"],
            reason=Reason(doc["reason"]) if doc["reason"] else None,
            message=doc["message"],
            rule=doc["rule"],
            policy_version=doc["policy_version"],
            due=dt.datetime.fromisoformat(doc["due"]) if doc["due"] else None,
            fees=tuple(
                Fee(f["type"], Decimal(f["amount"]), f["currency"], f.get("entry_id")) for f in doc["fees"]
            ),
            data=doc["data"],
        )


class Refusal(Exception):
    """Raised inside a service to refuse; the transaction rolls back and it becomes an Outcome."""

    def __init__(self, reason: Reason, message: str | None = None, rule: str | None = None, **data: Any):
        super().__init__(message or reason.message)
        self.reason = reason
        self.message = message or reason.message
        self.rule = rule
        self.data = data

    def outcome(self, policy_version: int | None = None) -> Outcome:
        return Outcome(
            ok=False,
            reason=self.reason,
            message=self.message,
            rule=self.rule,
            policy_version=policy_version,
            data=dict(self.data),
        )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value
