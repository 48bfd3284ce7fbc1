"""The memory replay engine: the library in plain Python objects, decided by the same policy functions.

It mirrors, step for step and in the same order, what the services check
and write for the ops in ``MEMORY_OPS`` (ils_bridge/services/circulation.py,
ledger.py, patrons.py, cards.py, items.py, jobs.py), and asks the same
``policies.decisions`` functions.  A scenario it cannot mirror faithfully
goes to the SQL engine as a whole (``choice.replayable_in_memory``), never
partly.
The differential test (tests/core/test_simulation_engines.py) holds the two
engines to identical output.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ils_bridge.calendar import Closure
from ils_bridge.money import from_minor, parse_amount, round_to, to_minor
from ils_bridge.outcome import Refusal
from ils_bridge.reasons import Reason
from ils_bridge.simulation.events import (
    FAR_FUTURE,
    OPS,
    EventError,
    date,
    instant,
    output,
    req,
    unknown_op,
)
from ils_bridge.simulation.state import (
    Card,
    Charge,
    Hold,
    Item,
    Loan,
    Patron,
    PatronDay,
    RememberingCalendar,
)
from policies.decisions import (
    Account,
    CurrentLoan,
    RenewalFacts,
    classify,
    decide_checkout,
    decide_hold,
    decide_renewal,
    deposit_deduction,
    overdue_days,
    overdue_fine,
    shelf_expiry,
)
from policies.loader import load_policy

MEMORY_OPS = frozenset(("patron", "item", "closed", "checkout", "checkin", "renew", "hold", "cancel_hold", "pay", "tick"))
ITEM_ATTRIBUTES = ("collection", "language", "classification", "pub_year", "closed_stack", "branch", "location",
                   "volumes_in_set", "set_price", "replacement_value", "important_work")
FACT_ATTRIBUTES = ("collection", "language", "classification", "branch", "location", "pub_year")
UNAVAILABLE_STATUSES = ("lost", "missing", "withdrawn", "in_transit")
CLOSURE_KINDS = ("holiday", "vacation", "closed")

class MemorySimulation:
    """Replays events of ``MEMORY_OPS`` against the policy, keeping the library in memory."""

    engine = "memory"

    def __init__(self, policy_text: str):
        self.policy = load_policy(policy_text, "<policy>")
        info = self.policy.library
        self.currency = info.currency
        self.zone = ZoneInfo(info.timezone)
        self.calendar = RememberingCalendar(info.timezone, self.policy.calendar.weekly_closed, [*self.policy.calendar.closures])
        self.patrons: dict[str, Patron] = {}
        self.cards: dict[str, tuple[Patron, Card]] = {}
        self.items: dict[str, Item] = {}
        self.titles: dict[str, int] = {}
        self.copies: dict[str, int] = {}  # copies the scenario asked for, per title key (as the SQL engine counts them)
        self.live_copies: dict[int, int] = {}  # items the library holds, per title
        self.loans: dict[int, Loan] = {}  # active loans, oldest first (as the jobs walk them)
        self.loans_made = 0
        self.title_items: dict[int, list[Item]] = {}
        self.title_holds: dict[int, list[Hold]] = {}  # open holds per title
        self.holds: dict[int, Hold] = {}  # open holds, oldest first (as the jobs walk them)
        self.holds_made = 0
        self.entries = 0  # ledger entries written: orders charges made at the same instant
        self.now = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
        self.today = self.now.date()
        self.ops: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "patron": self._patron, "item": self._item, "closed": self._closed, "checkout": self._checkout,
            "checkin": self._checkin, "renew": self._renew, "hold": self._hold, "cancel_hold": self._cancel_hold,
            "pay": self._pay, "tick": self._tick,
        }
        self.known = dict.fromkeys(OPS)
        self.moments: dict[str, tuple[dt.datetime, dt.date]] = {}
        self.amounts: dict[int, Decimal] = {}
        self.days: dict[dt.date, str] = {}

    def apply(self, event: dict[str, Any]) -> dict[str, Any]:
        op = event.get("op")
        handler = self.ops.get(op)
        if handler is None and op not in self.known:
            raise unknown_op(op)
        at = event.get("at")
        moment = self.moments.get(at) if at.__class__ is str else None
        self.now, self.today = moment or self.moment(at)
        try:
            return handler(event)
        except Refusal as refusal:
            return output(op, False, refusal.reason.value, None, [], refusal.rule)

    def moment(self, at: Any) -> tuple[dt.datetime, dt.date]:
        """The event's instant and local day; scenarios repeat times, so both are remembered by the text."""
        try:
            return self.moments[at]
        except (KeyError, TypeError):
            pass
        now = instant(at)
        if len(self.moments) >= 65536:
            self.moments.clear()
        self.moments[at] = now, now.astimezone(self.zone).date()
        return self.moments[at]

    # -- money ------------------------------------------------------------
    def amount(self, value: object, currency_code: str | None = None, *, allow_zero: bool = False) -> Decimal:
        if currency_code is not None and currency_code.upper() != self.currency.code:
            raise Refusal(Reason.WRONG_CURRENCY)
        try:
            return parse_amount(value, self.currency, allow_zero=allow_zero)
        except ValueError as exc:
            raise Refusal(Reason.INVALID_AMOUNT, str(exc)) from None

    def money(self, minor: int) -> Decimal:
        amount = self.amounts.get(minor)
        if amount is None:
            if len(self.amounts) >= 65536:
                self.amounts.clear()
            amount = self.amounts[minor] = from_minor(minor, self.currency)
        return amount

    def day_text(self, day: dt.date) -> str:
        """An output date; loans fall due on few distinct days, so their text is remembered (``self.days``)."""
        text = self.days.get(day)
        if text is None:
            if len(self.days) >= 65536:
                self.days.clear()
            text = self.days[day] = day.isoformat()
        return text

    def fee(self, fee_type: str, amount: Decimal) -> dict[str, str]:
        return {"type": fee_type, "amount": str(amount), "currency": self.currency.code}

    def sell(self, fee_type: str, amount: Decimal, fees: list[dict[str, str]]) -> None:
        """A fee charged and paid at once: two ledger entries, nothing left owed."""
        if amount > 0:
            self.entries += 2
            fees.append(self.fee(fee_type, round_to(amount, self.currency)))

    # -- lookups ------------------------------------------------------------
    def find_patron(self, identifier: str) -> tuple[Patron, Card | None]:
        by_card = self.cards.get(identifier)  # the common case: card numbers are stripped text, as the events' are
        if by_card is not None:
            return by_card
        identifier = (identifier or "").strip()
        if not identifier:
            raise Refusal(Reason.UNKNOWN_PATRON)
        by_card = self.cards.get(identifier)
        if by_card is not None:
            return by_card
        patron = self.patrons.get(identifier)
        if patron is None:
            raise Refusal(Reason.UNKNOWN_PATRON)
        return patron, patron.card

    def standing(self, patron: Patron, card: Card | None) -> Reason | None:
        """Why the patron may not transact today (lookup.patron_standing_refusal, for the states kept here:
        patrons are approved at once, and no op here blocks, bans or changes a card)."""
        return self.patron_day(patron, card).standing

    def patron_day(self, patron: Patron, card: Card | None) -> PatronDay:
        """The patron as today's decisions see them: their facts, and why they may not transact (if so).

        Kept for the day (a package or a card may lapse overnight) and shared by every decision of the day,
        which only read them; ``_issue_card`` and ``_buy_package``, which change them, clear them.  ``card``
        is the patron's one card: the memory engine issues one per patron.
        """
        known = patron.day
        if known is not None and known.day == self.today:
            return known
        today = self.today
        package = patron.package if patron.package_until is not None and patron.package_until >= today else None
        facts = {"patron_type": patron.patron_type, "patron_group": patron.patron_group, "package": package,
                 "card_kind": card.kind if card is not None else None}
        if card is None:
            standing = Reason.NO_CARD
        elif card.valid_until is not None and card.valid_until < today:
            standing = Reason.CARD_EXPIRED
        else:
            standing = None
        patron.day = known = PatronDay(today, facts, standing)
        return known

    def item_facts(self, item: Item) -> dict[str, Any]:
        copies = self.live_copies[item.title]
        if item.facts_for is None or item.facts_for[0] != copies:
            item.facts_for = (copies, classify(self.policy, {**item.attributes, "copies": copies}))
        return item.facts_for[1]

    def counted(self, item: Item) -> CurrentLoan:
        """A loan of the item as borrowing limits count it (kept on the item: its attributes never change here)."""
        item.counted = CurrentLoan(classify(self.policy, item.attributes), item.price)
        return item.counted

    # -- set-up ---------------------------------------------------------------
    def _patron(self, event: dict[str, Any]) -> dict[str, Any]:
        number = req(event, "id")
        name, patron_type = event.get("name", number), req(event, "type")
        group = event.get("group")
        if not number.strip() or not name.strip():
            raise Refusal(Reason.INVALID_REQUEST)
        for vocabulary, value in (("patron_types", patron_type), ("patron_groups", group)):
            allowed = self.policy.vocabulary.get(vocabulary)
            if value is not None and allowed is not None and value not in allowed:
                raise Refusal(Reason.INVALID_REQUEST)
        if number in self.patrons:
            raise Refusal(Reason.DUPLICATE)
        pending = self.policy.registration_approval
        patron = Patron(number, patron_type, group)  # approved at once when the policy wants approval, as the SQL engine does
        self.patrons[number] = patron
        rule = "registration:approval_required" if pending else "registration:open"
        fees: list[dict[str, str]] = []
        try:
            self._issue_card(number, event.get("card", number), event.get("card_kind"), event.get("card_expires"), fees)
            if event.get("package"):
                self._buy_package(number, event["package"], fees)
            if event.get("deposit"):
                self._take_deposit(number, str(event["deposit"]))
        except Refusal as refusal:
            return output("patron", False, refusal.reason.value, None, [], refusal.rule)
        return output("patron", True, None, None, fees, rule)

    def _issue_card(self, patron_number: str, number: str, kind: str | None, expires: Any, fees: list[dict[str, str]]) -> None:
        kinds = self.policy.cards.kinds
        valid_until = date(expires)
        if valid_until is None:
            chosen = kinds.get(kind) if kind else next(iter(kinds.values()), None)
            valid_until = FAR_FUTURE if chosen is not None and chosen.validity_days is None else None
        patron, _ = self.find_patron(patron_number)
        card_kind = kinds[kind] if kind in kinds else (next(iter(kinds.values())) if kind is None else None)
        if card_kind is None:
            raise Refusal(Reason.INVALID_REQUEST)
        number = (number or "").strip()
        if not number:
            raise Refusal(Reason.INVALID_REQUEST)
        if number in self.cards:
            raise Refusal(Reason.DUPLICATE)
        if valid_until is not None:
            if valid_until < self.today:
                raise Refusal(Reason.INVALID_REQUEST)
        elif card_kind.validity_days is None:
            raise Refusal(Reason.INVALID_REQUEST)
        else:
            valid_until = self.today + dt.timedelta(days=card_kind.validity_days)
        card = Card(number, card_kind.kind, valid_until)
        patron.card, patron.day = card, None
        self.cards[number] = (patron, card)
        self.sell("card", card_kind.fee, fees)

    def _buy_package(self, patron_number: str, code: str, fees: list[dict[str, str]]) -> None:
        package = self.policy.packages.get(code)
        if package is None:
            raise Refusal(Reason.INVALID_REQUEST)
        patron, _ = self.find_patron(patron_number)
        patron.package, patron.package_until = code, self.today + dt.timedelta(days=package.valid_days)
        patron.day = None
        self.sell("package", package.price, fees)

    def _take_deposit(self, patron_number: str, amount: str) -> None:
        patron, _ = self.find_patron(patron_number)
        minor = to_minor(self.amount(amount), self.currency)
        self.entries += 1
        patron.deposit += minor
        patron.deposit_taken += minor

    def _item(self, event: dict[str, Any]) -> dict[str, Any]:
        barcode = req(event, "barcode")
        key = str(event.get("title", barcode))
        if key not in self.titles:
            if not str(event.get("title_name", key)).strip():
                raise KeyError("title_id")  # as the SQL engine: the refused title has no id
            self.titles[key] = len(self.titles) + 1
            self.live_copies[self.titles[key]] = 0
            self.title_items[self.titles[key]] = []
            self.title_holds[self.titles[key]] = []
        title = self.titles[key]
        material = req(event, "material")
        attributes = {k: event[k] for k in ITEM_ATTRIBUTES if k in event}
        self._add_item(barcode, title, material, event.get("price"), event.get("currency"), attributes)
        self.copies[key] = self.copies.get(key, 0) + 1
        wanted = int(event.get("copies", 1))
        while self.copies[key] < wanted:  # the title's other copies, so copy-count rules see them
            self.copies[key] += 1
            try:
                self._add_item(f"{barcode}#copy{self.copies[key]}", title, material, event.get("price"),
                               event.get("currency"), attributes)
            except Refusal:
                pass
        return output("item", True, None, None, [], "items:add")

    def _add_item(self, barcode: str, title: int, material: str, price: Any, currency: str | None,
                  attributes: dict[str, Any]) -> None:
        if material not in self.policy.vocabulary.get("materials", ()):
            raise Refusal(Reason.INVALID_REQUEST)
        if barcode in self.items:
            raise Refusal(Reason.DUPLICATE)
        for name in ("set_price", "replacement_value"):
            if attributes.get(name) is not None:
                self.amount(attributes[name], currency)
        value = self.money(to_minor(self.amount(price, currency, allow_zero=True), self.currency)) if price is not None else None
        facts = {"material": material, **{k: attributes.get(k) for k in FACT_ATTRIBUTES},
                 "closed_stack": attributes.get("closed_stack", False)}
        self.items[barcode] = item = Item(barcode, title, facts, value)
        self.title_items[title].append(item)
        self.live_copies[title] += 1

    def _closed(self, event: dict[str, Any]) -> dict[str, Any]:
        start = date(event.get("from") or event.get("date"))
        if start is None:
            raise EventError("a closed event needs date (or from/to)")
        end = date(event.get("to")) or start
        kind, name = event.get("kind", "closed"), event.get("name", "")
        if kind not in CLOSURE_KINDS or end < start:
            raise Refusal(Reason.INVALID_REQUEST)
        self.calendar.add_closure(Closure(start, end, kind, name))
        return output("closed", True, None, None, [], "calendar:closure")

    # -- circulation ------------------------------------------------------------
    # The hot paths: identifiers are plain strings here (``replayable_in_memory``), so lookups need no stripping.
    def _checkout(self, event: dict[str, Any]) -> dict[str, Any]:
        patron_id = event.get("patron") or req(event, "patron")
        barcode = event.get("item") or req(event, "item")
        patron, card = self.cards.get(patron_id) or self.find_patron(patron_id)
        today = self.patron_day(patron, card)
        if today.standing is not None:
            raise Refusal(today.standing)
        item = self.items.get(barcode)
        if item is None:
            raise Refusal(Reason.UNKNOWN_ITEM)
        current = item.loan
        if current is not None:
            if current.patron is patron and event.get("renew_if_own"):
                return self._renew_loan("checkout", patron, card, current)
            raise Refusal(Reason.ITEM_CHECKED_OUT)
        if item.status in UNAVAILABLE_STATUSES:
            raise Refusal(Reason.ITEM_UNAVAILABLE)
        trapped = item.trapped if item.status == "on_hold_shelf" else None
        if trapped is not None and trapped.patron is not patron:
            raise Refusal(Reason.ITEM_ON_HOLD)
        decision = decide_checkout(self.policy, self.calendar, self.account(patron, today.facts), self.item_facts(item),
                                   item.price, self.today)
        if not decision.ok:
            raise Refusal(decision.reason, None, decision.rule)
        self.loans_made += 1
        loan = Loan(self.loans_made, patron, item, decision.due, decision.rule, decision.terms,
                    item.counted or self.counted(item))
        self.loans[loan.id] = patron.loans[loan.id] = loan
        item.status, item.loan = "checked_out", loan
        item.times_loaned += 1
        if trapped is not None:  # fulfilled: the copy leaves with its holder
            self.forget_hold(trapped)
            item.trapped = None
        return {"op": "checkout", "ok": True, "reason": None, "due": self.days.get(decision.due) or self.day_text(decision.due),
                "fees": [], "rule": decision.rule}

    def account(self, patron: Patron, facts: dict[str, Any]) -> Account:
        """The patron's standing as limits and borrowing blocks see it (circulation.account_of)."""
        counted, overdue = [], 0
        today = self.today
        if patron.loans:
            for loan in patron.loans.values():
                counted.append(loan.counted)
                overdue += loan.due < today
        return Account(facts, counted, self.money(patron.fees), overdue, self.money(patron.deposit))

    def _renew(self, event: dict[str, Any]) -> dict[str, Any]:
        patron_id = event.get("patron") or req(event, "patron")
        barcode = event.get("item") or req(event, "item")
        patron, card = self.cards.get(patron_id) or self.find_patron(patron_id)
        item = self.items.get(barcode)
        if item is None:
            raise Refusal(Reason.UNKNOWN_ITEM)
        loan = item.loan
        if loan is None or loan.patron is not patron:
            raise Refusal(Reason.ITEM_NOT_CHECKED_OUT)
        return self._renew_loan("renew", patron, card, loan)

    def _renew_loan(self, op: str, patron: Patron, card: Card | None, loan: Loan) -> dict[str, Any]:
        standing = self.patron_day(patron, card).standing
        if standing is not None and standing is not Reason.CARD_EXPIRED:
            raise Refusal(standing)
        title = loan.item.title
        on_hold = bool(self.title_holds[title]) and any(h.patron is not patron for h in self.waiting_holds(title, loan.item))
        facts = RenewalFacts(loan.terms, loan.rule_id, loan.renewals, loan.due, on_hold, self.money(patron.fees),
                             standing is not None, loan.recalled)
        decision = decide_renewal(self.policy, self.calendar, facts, self.today)
        if not decision.ok:
            raise Refusal(decision.reason, None, decision.rule)
        loan.due = decision.due
        loan.renewals += 1
        return {"op": op, "ok": True, "reason": None, "due": self.days.get(decision.due) or self.day_text(decision.due),
                "fees": [], "rule": loan.rule_id}

    def _checkin(self, event: dict[str, Any]) -> dict[str, Any]:
        item = self.items.get(event.get("item") or req(event, "item"))
        if item is None:
            raise Refusal(Reason.UNKNOWN_ITEM)
        loan = item.loan
        if loan is None:
            raise Refusal(Reason.ITEM_NOT_CHECKED_OUT)
        fees = []
        rule = loan.rule_id
        if self.today > loan.due:  # overdue_fine charges nothing for a loan returned by its due day
            fine = overdue_fine(self.policy, self.calendar, loan.terms, loan.due, self.today)
            if fine.amount:
                amount = round_to(fine.amount, self.currency)
                self.charge(loan.patron, "overdue", amount)
                fees.append(self.fee("overdue", amount))
            rule = fine.rule or rule
        del self.loans[loan.id], loan.patron.loans[loan.id]
        item.loan = None
        self.trap(item)
        return {"op": "checkin", "ok": True, "reason": None, "due": None, "fees": fees, "rule": rule}

    # -- holds ----------------------------------------------------------------
    def waiting_holds(self, title: int, item: Item | None = None) -> list[Hold]:
        """The queue for a title (and item-level holds on one copy), oldest first (lookup.waiting_holds)."""
        queue = self.title_holds[title]
        if not queue:
            return queue
        waiting = [h for h in queue if h.status == "waiting" and (item is None or h.item is None or h.item is item)]
        waiting.sort(key=Hold.queue_order.fget)
        return waiting

    def trap(self, item: Item) -> None:
        """A returned copy goes to the first hold still wanted, else back on the shelf (holds.trap)."""
        for hold in self.waiting_holds(item.title, item):
            if hold.lapse_on is not None and hold.lapse_on < self.today:
                self.close_hold(hold)  # expired
                continue
            hold.status, hold.item = "ready", item
            hold.shelf_expires_on = shelf_expiry(self.policy, self.calendar, self.today)
            item.status, item.trapped = "on_hold_shelf", hold
            return
        item.status, item.trapped = "available", None

    def forget_hold(self, hold: Hold) -> None:
        """A hold is no longer open (fulfilled, cancelled or expired)."""
        del self.holds[hold.id], hold.patron.holds[hold.id]
        self.title_holds[hold.title].remove(hold)

    def close_hold(self, hold: Hold) -> None:
        """End a hold (cancelled or expired); a copy it held on the shelf goes to the next one (holds.close)."""
        self.forget_hold(hold)
        was_ready, hold.status = hold.status == "ready", "closed"
        if was_ready and hold.item is not None:
            self.trap(hold.item)

    def _hold(self, event: dict[str, Any]) -> dict[str, Any]:
        patron_id, barcode = req(event, "patron"), event.get("item")
        title_key = event.get("title")
        if title_key is not None and str(title_key) not in self.titles:
            raise EventError(f"unknown title {title_key!r}")
        title_id = None if title_key is None else self.titles[str(title_key)]
        lapse_on = date(event.get("lapse_on"))
        patron, card = self.find_patron(patron_id)
        standing = self.standing(patron, card)
        if standing is not None:
            raise Refusal(standing)
        row = None
        if barcode:
            row = self.items.get(barcode)
            if row is None:
                raise Refusal(Reason.UNKNOWN_ITEM)
        title = row.title if row is not None else title_id
        if title is None:
            raise Refusal(Reason.INVALID_REQUEST)
        copies = self.title_items.get(title)
        if not copies:
            raise Refusal(Reason.UNKNOWN_ITEM)
        if any(c.loan is not None and c.loan.patron is patron for c in copies) and (row is None or row.loan is not None):
            raise Refusal(Reason.HOLD_NOT_ALLOWED)
        if lapse_on is not None and not self.policy.holds.patron_lapse_date:
            raise Refusal(Reason.NOT_PERMITTED)
        if lapse_on is not None and lapse_on < self.today:
            raise Refusal(Reason.INVALID_REQUEST)
        if any(h.title == title for h in patron.holds.values()):
            raise Refusal(Reason.HOLD_EXISTS)
        targets = [row] if row is not None else copies
        decision = decide_hold(self.policy, any(c.status == "available" for c in targets), len(patron.holds))
        if not decision.ok:
            raise Refusal(decision.reason, None, decision.rule)
        self.holds_made += 1
        hold = Hold(self.holds_made, patron, title, row, self.now, lapse_on)
        self.holds[hold.id] = patron.holds[hold.id] = hold
        self.title_holds[title].append(hold)
        if self.policy.holds.recall_notice:
            self._recall_for_hold([c.loan for c in targets if c.loan is not None])
        return output("hold", True, None, None, [], decision.rule)

    def _recall_for_hold(self, loans: list[Loan]) -> None:
        """The loan that falls due first is recalled (holds._recall_for_hold)."""
        if loans:
            min(loans, key=lambda loan: loan.due).recalled = True

    def _cancel_hold(self, event: dict[str, Any]) -> dict[str, Any]:
        patron_id, barcode = req(event, "patron"), req(event, "item")
        patron, _ = self.find_patron(patron_id)
        item = self.items.get(barcode)
        if item is None:
            raise Refusal(Reason.UNKNOWN_ITEM)
        hold = next((h for h in patron.holds.values() if h.title == item.title), None)
        if hold is None:
            raise Refusal(Reason.UNKNOWN_HOLD)
        self.close_hold(hold)
        return output("cancel_hold", True, None, None, [], "holds:cancel")

    def charge(self, patron: Patron, fee_type: str, amount: Decimal) -> None:
        minor = to_minor(amount, self.currency)
        self.entries += 1
        patron.fees += minor
        patron.add_charge(Charge(self.now, self.entries, fee_type, minor))

    # -- money ------------------------------------------------------------------
    def _pay(self, event: dict[str, Any]) -> dict[str, Any]:
        patron_id, amount = req(event, "patron"), req(event, "amount")
        patron, _ = self.find_patron(patron_id)
        left = to_minor(self.amount(amount, event.get("currency")), self.currency)
        owed = sum(c.outstanding for c in patron.charges)
        if owed == 0:
            raise Refusal(Reason.NOTHING_OWED)
        if left > owed:
            raise Refusal(Reason.OVERPAYMENT)
        for charge in patron.charges:
            if left == 0:
                break
            part = min(left, charge.outstanding)
            self.entries += 1
            charge.outstanding -= part
            patron.fees -= part
            left -= part
        patron.charges = [c for c in patron.charges if c.outstanding > 0]
        return output("pay", True, None, None, [], "ledger:payment")

    # -- jobs -------------------------------------------------------------------
    def _tick(self, event: dict[str, Any]) -> dict[str, Any]:
        """The daily jobs (jobs.run_jobs): hold shelf expiry, lapsed holds, deposit deductions; notices are not output."""
        today = self.today
        for hold in [h for h in self.holds.values() if h.status == "ready" and h.shelf_expires_on < today]:
            self.close_hold(hold)  # expired
        for hold in [h for h in self.holds.values() if h.status == "waiting" and h.lapse_on is not None and h.lapse_on < today]:
            self.close_hold(hold)  # lapsed
        if self.policy.deposits.deduction_after_days is not None:
            for loan in self.loans.values():
                late = overdue_days(loan.due, self.today)
                if late:
                    self._deduct_for(loan, late)
        return output("tick", True, None, None, [], None)

    def _deduct_for(self, loan: Loan, late: int) -> None:
        patron = loan.patron
        decision = deposit_deduction(self.policy, self.money(patron.deposit_taken), late, loan.deposit_deducted_days)
        if not decision.amount:
            return
        loan.deposit_deducted_days = decision.terms["days"]
        taken = min(decision.amount, max(self.money(patron.deposit), Decimal(0)))
        if taken > 0:
            self.entries += 1
            patron.deposit -= to_minor(taken, self.currency)
