"""The SQL replay engine: every event through the real service facade, on an in-memory SQLite database.

What a simulation says here is what the desk and the kiosks do: events go
through the same services as real transactions, with a clock set to each
event's time.  It replays every op; ``memory.py`` is the fast engine for the
ops it mirrors (see ``ils_bridge/simulation/__init__.py`` for the choice).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from ils_bridge.app import App, Library
from ils_bridge.clock import SettableClock
from ils_bridge.outcome import Fee, Outcome
from ils_bridge.reasons import Reason
from ils_bridge.services.items import FLAGS
from ils_bridge.simulation.events import (
    FAR_FUTURE,
    EventError,
    instant,
    output,
    unknown_op,
)
from ils_bridge.simulation.events import date as _date
from ils_bridge.simulation.events import decimal as _decimal
from ils_bridge.simulation.events import req as _req


@dataclass
class Simulation:
    policy_text: str
    lib: Library = field(init=False)
    clock: SettableClock = field(init=False)
    titles: dict[str, int] = field(default_factory=dict)
    copies: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.clock = SettableClock(dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
        app = App.open("sqlite://", self.clock, create=True)
        self.lib = app.create_library(self.policy_text, author="simulation", message="simulation")
        self.zone = ZoneInfo(self.lib.record.timezone)
        self.ops: dict[str, Callable[[dict[str, Any]], Outcome]] = {
            "patron": self._patron, "item": self._item, "closed": self._closed,
            "checkout": lambda e: self.lib.checkout(_req(e, "patron"), _req(e, "item"), renew_if_own=bool(e.get("renew_if_own"))),
            "checkin": lambda e: self.lib.checkin(_req(e, "item")),
            "renew": lambda e: self.lib.renew(_req(e, "patron"), _req(e, "item")),
            "hold": lambda e: self.lib.place_hold(_req(e, "patron"), item=e.get("item"), title_id=self._title_of(e),
                                                  lapse_on=_date(e.get("lapse_on"))),
            "cancel_hold": lambda e: self.lib.cancel_hold(_req(e, "patron"), item=_req(e, "item")),
            "recall": lambda e: self.lib.recall(_req(e, "item"), new_due=_date(e.get("new_due"))),
            "lost": lambda e: self.lib.report_lost(_req(e, "item"), multiple=_decimal(e.get("multiple")),
                                                   processing_fee=e.get("processing_fee"),
                                                   replaced_by_copy=bool(e.get("replaced_by_copy"))),
            "found": lambda e: self.lib.found(_req(e, "item")),
            "damage": lambda e: self.lib.charge_damage(_req(e, "item"), _req(e, "kind"), patron=e.get("patron"),
                                                       units=int(e.get("units", 1)), cleanable=bool(e.get("cleanable")),
                                                       binding=e.get("binding"), extra=e.get("extra")),
            "pay": lambda e: self.lib.pay(_req(e, "patron"), _req(e, "amount"), e.get("currency"), fee_id=e.get("fee")),
            "waive": self._waive,
            "tick": lambda e: self.lib.run_jobs(),
        }

    # -- set-up ----------------------------------------------------------
    def _patron(self, event: dict[str, Any]) -> Outcome:
        number = _req(event, "id")
        registered = self.lib.register_patron(number, event.get("name", number), _req(event, "type"),
                                              patron_group=event.get("group"), field=event.get("field"))
        if not registered.ok:
            return registered
        if registered.data["status"] == "pending":
            self.lib.approve_patron(number, approver="simulation")
        steps = [lambda: self.lib.issue_card(number, event.get("card", number), kind=event.get("card_kind"),
                                             valid_until=_date(event.get("card_expires")) or self._card_default(event.get("card_kind")))]
        if event.get("package"):
            steps.append(lambda: self.lib.buy_package(number, event["package"]))
        if event.get("deposit"):
            steps.append(lambda: self.lib.take_deposit(number, str(event["deposit"])))
        fees: list[Fee] = []
        for step in steps:
            outcome = step()
            if not outcome.ok:
                return outcome
            fees.extend(outcome.fees)
        return Outcome(ok=True, rule=registered.rule, fees=tuple(fees))

    def _card_default(self, kind: str | None) -> dt.date | None:
        kinds = self.lib.current_policy().cards.kinds
        chosen = kinds.get(kind) if kind else next(iter(kinds.values()), None)
        return FAR_FUTURE if chosen is not None and chosen.validity_days is None else None

    def _item(self, event: dict[str, Any]) -> Outcome:
        barcode = _req(event, "barcode")
        key = str(event.get("title", barcode))
        if key not in self.titles:
            title = self.lib.add_title(event.get("title_name", key), pub_year=event.get("pub_year"))
            self.titles[key] = title.data["title_id"]
        attributes = {k: event[k] for k in ("collection", "language", "classification", "pub_year", "closed_stack",
                                            "branch", "location", "volumes_in_set", "set_price", "replacement_value",
                                            "important_work") if k in event}
        for flag in FLAGS:
            if flag in attributes and attributes[flag] is None:  # a malformed event, as the memory engine reads it
                raise EventError(f"item {flag!r} must be true or false, not null")
        added = self.lib.add_item(barcode, self.titles[key], _req(event, "material"), price=event.get("price"),
                                  currency=event.get("currency"), **attributes)
        if not added.ok:
            return added
        self.copies[key] = self.copies.get(key, 0) + 1
        wanted = int(event.get("copies", 1))
        while self.copies[key] < wanted:  # the title's other copies, so copy-count rules see them
            self.copies[key] += 1
            self.lib.add_item(f"{barcode}#copy{self.copies[key]}", self.titles[key], event["material"],
                              price=event.get("price"), currency=event.get("currency"), **attributes)
        return added

    def _closed(self, event: dict[str, Any]) -> Outcome:
        start = _date(event.get("from") or event.get("date"))
        if start is None:
            raise EventError("a closed event needs date (or from/to)")
        return self.lib.add_closure(start, _date(event.get("to")) or start, event.get("kind", "closed"), event.get("name", ""))

    def _title_of(self, event: dict[str, Any]) -> int | None:
        title = event.get("title")
        if title is None:
            return None
        if str(title) not in self.titles:
            raise EventError(f"unknown title {title!r}")
        return self.titles[str(title)]

    def _waive(self, event: dict[str, Any]) -> Outcome:
        patron = _req(event, "patron")
        fee = event.get("fee", "last")
        if fee == "last":
            fees = self.lib.patron_account(patron)["fees"]
            if not fees:
                return Outcome(ok=False, reason=Reason.NOTHING_OWED, message=Reason.NOTHING_OWED.message)
            fee = fees[-1]["fee_id"]
        return self.lib.waive(patron, fee_id=int(fee), approver=event.get("approver", ""), reason=event.get("reason", ""),
                              amount=event.get("amount"), approvals=event.get("approvals", ()))

    # -- replay ----------------------------------------------------------
    def apply(self, event: dict[str, Any]) -> dict[str, Any]:
        op = event.get("op")
        if op not in self.ops:
            raise unknown_op(op)
        at = instant(event.get("at"))
        self.clock.set(at)
        outcome = self.ops[op](event)
        due = outcome.due.astimezone(self.zone).date().isoformat() if outcome.due else None
        return output(op, outcome.ok, outcome.reason.value if outcome.reason else None, due,
                      [f.to_json() for f in outcome.fees], outcome.rule)
