"""Decisions: what the policy says about one request, from plain facts.

No I/O here.  Services gather the facts (the patron's attributes and
current loans, the item's attributes, balances, today's date, the calendar)
and call these functions; each returns a ``Decision`` carrying the outcome,
the id of the rule that decided, and the chain of steps ``explain`` shows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from ils_bridge.calendar import LibraryCalendar
from ils_bridge.money import round_to
from ils_bridge.reasons import Reason
from policies import model as m
from policies.matcher import FactMemo

Facts = Mapping[str, Any]


@dataclass(frozen=True)
class Step:
    """One rule consulted: which section, which rule, what it said and why."""

    section: str
    rule: str | None
    verdict: str  # pass | refuse | apply
    detail: str

    @property
    def rule_ref(self) -> str:
        return f"{self.section}:{self.rule}" if self.rule else f"{self.section}:(none)"


Trace = list[Step] | None  # the steps being recorded, or None when nobody will read them


@dataclass(slots=True)
class Decision:
    """An outcome, the rule that decided it, and (see ``decide_checkout``) the steps that led there."""

    ok: bool
    reason: Reason | None = None
    rule: str | None = None
    steps: list[Step] = field(default_factory=list)
    due: dt.date | None = None
    terms: dict[str, Any] = field(default_factory=dict)
    amount: Decimal | None = None

    def refuse(self, reason: Reason, step: Step) -> Decision:
        self.ok, self.reason, self.rule = False, reason, step.rule_ref
        self.steps.append(step)
        return self


def _refused(reason: Reason, step: Step, trace: Trace) -> Decision:
    """A refusal by ``step``, after the steps traced so far."""
    steps = [] if trace is None else trace
    steps.append(step)
    return Decision(False, reason, step.rule_ref, steps)


class CurrentLoan(NamedTuple):
    """A loan the patron has out, as the limits see it (a named tuple: immutable and cheap to build)."""

    item: Facts
    price: Decimal | None


class Account(NamedTuple):
    """The patron's standing when they ask to borrow."""

    patron: Facts
    loans: Sequence[CurrentLoan] = ()
    fines_owed: Decimal = Decimal(0)
    overdue_items: int = 0
    deposit: Decimal = Decimal(0)


def classify(policy: m.Policy, item: Facts) -> dict[str, Any]:
    """The item's facts with the derived ``class`` added."""
    facts = dict(item)
    if facts.get("class") is None:
        rule = policy.classes.first(facts)
        facts["class"] = rule.item_class if rule else None
    return facts


def due_date(policy: m.Policy, calendar: LibraryCalendar, start: dt.date, period_days: int) -> dt.date:
    period = _PERIODS.get(period_days)
    if period is None:
        period = _PERIODS[period_days] = dt.timedelta(days=period_days)
    due = start + period
    return calendar.next_open_day(due) if policy.calendar.due_dates_avoid_closed else due


_PERIODS: dict[int, dt.timedelta] = {}  # loan periods are few: each built once


def loan_terms(rule: m.LoanRule, fine: m.FineRule | None) -> dict[str, Any]:
    """The terms a loan keeps for its whole life, whatever later policy versions say (a new dict each time)."""
    terms = rule.__dict__.get("_terms")
    if terms is None:
        terms = {
            "period_days": rule.period_days,
            "renewals": rule.renewals,
            "renew_from": rule.renew_from,
            "renew_before_due_only": rule.renew_before_due_only,
            "renew_refused_if": None,
            "fine": None,
        }
        object.__setattr__(rule, "_terms", terms)  # frozen dataclass: a cache beside its fields
    return {**terms, "renew_refused_if": [*rule.renew_refused_if], "fine": fine_terms(fine)}


def fine_terms(fine: m.FineRule | None) -> dict[str, Any] | None:
    """The overdue-fine schedule a loan keeps (amounts as strings, exactly)."""
    if fine is None:
        return None
    terms = fine.__dict__.get("_terms")
    if terms is None:
        terms = {
            "rule": fine.id,
            "per_day": None if fine.per_day is None else str(fine.per_day),
            "flat": None if fine.flat is None else str(fine.flat),
            "cap": None if fine.cap is None else str(fine.cap),
        }
        object.__setattr__(fine, "_terms", terms)  # frozen dataclass: a cache beside its fields
    return dict(terms)


# ---------------------------------------------------------------- checkout
def decide_checkout(
    policy: m.Policy, calendar: LibraryCalendar, account: Account, item: Facts, price: Decimal | None, today: dt.date,
    *, explain: bool = False,
) -> Decision:
    """May this patron borrow this item today, and until when?  ``item`` must be classified.

    A granted checkout is decided without recording how (its ``steps`` are empty) unless ``explain`` asks
    for them.  A refusal always carries the whole chain, the rules passed and the one that refused: it is
    decided again with the steps recorded, which costs nothing on the common path.
    """
    if not explain:
        decision = _checkout(policy, calendar, account, item, price, today, None)
        if decision.ok:
            return decision
    return _checkout(policy, calendar, account, item, price, today, [])


def _checkout(policy: m.Policy, calendar: LibraryCalendar, account: Account, item: Facts, price: Decimal | None,
              today: dt.date, trace: Trace) -> Decision:
    refusal = _borrowing_refusal(policy, account)
    if refusal is not None:
        return _refused(*refusal, trace)
    facts = {**account.patron, **item}
    rules = _checkout_rules(policy, facts)
    rule = rules.loan
    if rule is None:
        return _refused(Reason.NOT_LOANABLE, Step("loan", None, "refuse", "no loan rule applies to this patron and item"), trace)
    if not rule.loanable:
        return _refused(Reason(rule.reason), Step("loan", rule.id, "refuse", f"{rule.when.describe()}: not loanable"), trace)
    if (item.get("copies") or 0) < rule.min_copies:
        return _refused(Reason.SINGLE_COPY_TITLE, Step(
            "loan", rule.id, "refuse", f"the title has {item.get('copies')} copies; at least {rule.min_copies} needed to lend"), trace)
    if trace is not None:
        trace.append(_applied_step(rule))
    refusal = _limit_refusal(policy, account, item, price, trace) or _deposit_refusal(account, rules.deposit, trace)
    if refusal is not None:
        return _refused(*refusal, trace)
    return Decision(True, None, f"loan:{rule.id}", [] if trace is None else trace,
                    due_date(policy, calendar, today, rule.period_days), loan_terms(rule, rules.fine))


class CheckoutRules(NamedTuple):
    """The rules a checkout consults that depend on its facts alone."""

    loan: m.LoanRule | None
    fine: m.FineRule | None
    deposit: m.DepositRule | None


def _checkout_rules(policy: m.Policy, facts: Facts) -> CheckoutRules:
    """The loan, fine and deposit rules for these facts, memoised per policy object by the facts the three rule
    sets read (one memo lookup instead of three; policies never change once loaded)."""
    memo = policy.__dict__.get("_checkout_memo")
    if memo is None:
        rule_sets = (policy.loans, policy.fines.rules, policy.deposits.required)
        memo = FactMemo((c.key for rules in rule_sets for rule in rules for c in rule.when.items),
                        lambda facts: CheckoutRules(*(rules.first(facts) for rules in rule_sets)))
        object.__setattr__(policy, "_checkout_memo", memo)  # frozen dataclass: a cache beside its fields
    return memo.get(facts)


def _applied_step(rule: m.LoanRule) -> Step:
    """The step a loan rule adds when it applies; the same for every decision, so kept on the rule."""
    step = rule.__dict__.get("_applied_step")
    if step is None:
        step = Step("loan", rule.id, "apply", f"{rule.when.describe()}: {rule.period_days} days, {rule.renewals} renewal(s)")
        object.__setattr__(rule, "_applied_step", step)  # frozen dataclass: a cache beside its fields
    return step


def offline_loan(policy: m.Policy, calendar: LibraryCalendar, facts: Facts, today: dt.date) -> Decision:
    """Terms for a loan a terminal made offline that the policy would have refused: the item is already out.

    The loan rule that matches gives the period if it is loanable; otherwise the item is due back today
    with no renewals, so it shows as owed at once.
    """
    rule = policy.loans.first(facts)
    decision = Decision(ok=True, rule=f"loan:{rule.id}" if rule else "loan:(none)")
    if rule is not None and rule.loanable:
        decision.due = due_date(policy, calendar, today, rule.period_days)
        decision.terms = loan_terms(rule, policy.fines.rules.first(facts))
        return decision
    decision.due = today
    decision.terms = {"period_days": 0, "renewals": 0, "renew_from": "renewal_day", "renew_before_due_only": True,
                      "renew_refused_if": [], "fine": fine_terms(policy.fines.rules.first(facts))}
    return decision


def _borrowing_refusal(policy: m.Policy, account: Account) -> tuple[Reason, Step] | None:
    """Why the patron's account blocks all borrowing, if it does."""
    refuse_if = policy.borrowing.refuse_if
    if "fines_owed" in refuse_if and account.fines_owed > policy.borrowing.fines_threshold:
        return Reason.FINES_OWED, Step(
            "borrowing", "fines_owed", "refuse", f"{account.fines_owed} owed; the limit is {policy.borrowing.fines_threshold}")
    if "overdue_items" in refuse_if and account.overdue_items:
        return Reason.OVERDUE_ITEM, Step("borrowing", "overdue_items", "refuse", f"{account.overdue_items} item(s) overdue")
    return None


def applicable_limits(policy: m.Policy, patron: Facts) -> list[m.LimitRule]:
    """For each kind of count (all loans, SS books, ...), the limit that applies to this patron."""
    return list(_limits_for(policy, patron))  # a list of the caller's own


def _limits_for(policy: m.Policy, patron: Facts) -> list[m.LimitRule]:
    """``applicable_limits``, memoised per policy object by the patron facts the limits look at (policies never
    change once loaded); the list is shared, so read it only."""
    memo = policy.__dict__.get("_limit_memo")
    if memo is None:
        memo = FactMemo((c.key for limit in policy.limits for c in limit.when.items),
                        lambda facts: _applicable_limits(policy, facts))
        object.__setattr__(policy, "_limit_memo", memo)  # frozen dataclass: a cache beside its fields
    return memo.get(patron)


def _applicable_limits(policy: m.Policy, patron: Facts) -> list[m.LimitRule]:
    best: dict[str, m.LimitRule] = {}
    for limit in policy.limits:
        if limit.when.holds(patron):
            current = best.get(limit.group)
            if current is None or limit.rank > current.rank:
                best[limit.group] = limit
    return list(best.values())


def _limit_refusal(policy: m.Policy, account: Account, item: Facts, price: Decimal | None,
                   trace: Trace) -> tuple[Reason, Step] | None:
    """The first limit one more loan of ``item`` would break, if any."""
    for limit in _limits_for(policy, account.patron):
        counts = limit.counts
        if counts is not None and not counts.holds(item):
            continue
        counted = account.loans if counts is None else [loan for loan in account.loans if counts.holds(loan.item)]
        if limit.max_items is not None and len(counted) >= limit.max_items:
            return Reason.LIMIT_REACHED, Step(
                "limit", limit.id, "refuse", f"{len(counted)} of {limit.max_items} allowed ({limit.group}) already out")
        if limit.max_value is not None:
            total = sum((loan.price or Decimal(0) for loan in counted), Decimal(0)) + (price or Decimal(0))
            if total > limit.max_value:
                return Reason(limit.value_reason), Step(
                    "limit", limit.id, "refuse", f"items out would total {total}, over the {limit.max_value} allowed")
        if trace is not None:
            trace.append(_passed_step(limit, len(counted)))
    return None


def _passed_step(limit: m.LimitRule, counted: int) -> Step:
    """The step a limit adds when it lets the loan through with ``counted`` loans out (kept on the rule)."""
    steps = limit.__dict__.get("_passed_steps")
    if steps is None:
        steps = {}
        object.__setattr__(limit, "_passed_steps", steps)  # frozen dataclass: a cache beside its fields
    step = steps.get(counted)
    if step is None:
        step = steps[counted] = Step("limit", limit.id, "pass", f"{counted} of {limit.max_items} ({limit.group})")
    return step


def _deposit_refusal(account: Account, rule: m.DepositRule | None, trace: Trace) -> tuple[Reason, Step] | None:
    if rule is None:
        return None
    held = f"deposit held {account.deposit}; {rule.amount} required"
    if account.deposit < rule.amount:
        return Reason.DEPOSIT_REQUIRED, Step("deposit", rule.id, "refuse", held)
    if trace is not None:
        trace.append(Step("deposit", rule.id, "pass", held))
    return None


# ---------------------------------------------------------------- renewal
class RenewalFacts(NamedTuple):
    terms: Mapping[str, Any]
    rule: str
    renewals_done: int
    due: dt.date
    on_hold: bool
    fines_owed: Decimal
    card_expired: bool
    recalled: bool


def decide_renewal(
    policy: m.Policy, calendar: LibraryCalendar, loan: RenewalFacts, today: dt.date, *, explain: bool = False
) -> Decision:
    """Renewal by the loan's own terms (fixed at checkout), on today's calendar.

    A refusal carries its step; a granted renewal's step is recorded only if ``explain`` asks for it.
    """
    terms = loan.terms
    refusal = _renewal_refusal(terms, loan, today > loan.due)
    if refusal is not None:
        reason, detail = refusal
        return _refused(reason, Step("loan", loan.rule.split(":", 1)[-1], "refuse", detail), None)
    start = today if terms["renew_from"] == "renewal_day" else loan.due
    decision = Decision(True, None, loan.rule, [], due_date(policy, calendar, start, terms["period_days"]))
    if explain:
        decision.steps.append(_renewal_step(loan.rule.split(":", 1)[-1], loan.renewals_done + 1, terms["renewals"],
                                            terms["period_days"], start))
    return decision


def _renewal_step(rule_id: str, renewal: int, renewals: int, period_days: int, start: dt.date) -> Step:
    return Step("loan", rule_id, "apply", f"renewal {renewal} of {renewals}, {period_days} days from {start}")


def _renewal_refusal(terms: Mapping[str, Any], loan: RenewalFacts, overdue: bool) -> tuple[Reason, str] | None:
    """The first check a renewal fails, in this order, with its explanation; None if it passes them all."""
    blocks = terms["renew_refused_if"]
    if "overdue" in blocks and overdue:
        return Reason.OVERDUE_ITEM, f"the item was due {loan.due}"
    if terms["renew_before_due_only"] and overdue:
        return Reason.RENEWAL_TOO_LATE, f"the item was due {loan.due}"
    if loan.renewals_done >= terms["renewals"]:
        return Reason.RENEWAL_LIMIT, f"{loan.renewals_done} of {terms['renewals']} renewals used"
    if "on_hold" in blocks and loan.on_hold:
        return Reason.ITEM_ON_HOLD, "another patron has a hold on it"
    if "recalled" in blocks and loan.recalled:
        return Reason.ITEM_ON_HOLD, "the item has been recalled"
    if "fines_owed" in blocks and loan.fines_owed > 0:
        return Reason.FINES_OWED, f"{loan.fines_owed} owed"
    if "card_expired" in blocks and loan.card_expired:
        return Reason.CARD_EXPIRED, "the card has expired"
    return None


# ---------------------------------------------------------------- holds
def decide_hold(policy: m.Policy, any_copy_available: bool, holds_of_patron: int) -> Decision:
    rules = policy.holds
    decision = Decision(ok=True, rule=f"holds:{rules.allowed_when}")
    if rules.allowed_when == "never":
        return decision.refuse(Reason.HOLD_NOT_ALLOWED, Step("holds", "allowed_when", "refuse", "the library takes no holds"))
    if rules.allowed_when == "checked_out" and any_copy_available:
        return decision.refuse(Reason.HOLD_NOT_ALLOWED, Step(
            "holds", "allowed_when", "refuse", "holds are taken only on items that are checked out, and a copy is on the shelf"))
    if rules.max_per_patron is not None and holds_of_patron >= rules.max_per_patron:
        return decision.refuse(Reason.LIMIT_REACHED, Step("holds", "max_per_patron", "refuse", f"{holds_of_patron} holds already"))
    return decision


def shelf_expiry(policy: m.Policy, calendar: LibraryCalendar, ready_on: dt.date) -> dt.date:
    """The last day a trapped item waits on the hold shelf."""
    return calendar.add_counted_days(ready_on, policy.holds.shelf_days, policy.holds.shelf_paused_by)


# ---------------------------------------------------------------- fines
def overdue_fine(
    policy: m.Policy, calendar: LibraryCalendar, terms: Mapping[str, Any], due: dt.date, returned: dt.date,
    *, explain: bool = False,
) -> Decision:
    """The overdue fine for a loan returned on ``returned`` (its fine schedule is the loan's own).

    How it was reckoned (the grace or the days counted) is in ``steps`` only if ``explain`` asks for it.
    """
    fine = terms.get("fine")
    decision = Decision(ok=True, amount=Decimal(0))
    if returned <= due or fine is None:
        return decision
    decision.rule = f"fine:{fine['rule']}"
    counted_from = due
    closure = calendar.closure_on(due, tuple(g.closure for g in policy.fines.grace))
    if closure is not None:
        grace = next(g for g in policy.fines.grace if g.closure == closure.kind)
        closure_end = calendar.closure_ending(closure)
        grace_end = closure_end + dt.timedelta(days=grace.days_after)
        if returned <= grace_end:
            if explain:
                decision.steps.append(Step("fine", f"grace-{closure.kind}", "apply",
                                           f"due {due} in the {closure.name or closure.kind}; returned by {grace_end}: no fine"))
            decision.rule = f"fine:grace-{closure.kind}"
            return decision
        if policy.fines.grace_counts_from == "closure_end":
            counted_from = closure_end
    days = (returned - counted_from).days
    if fine["flat"] is not None:
        amount = Decimal(fine["flat"])
    else:
        amount = Decimal(fine["per_day"]) * days
    if fine["cap"] is not None:
        amount = min(amount, Decimal(fine["cap"]))
    decision.amount = round_to(amount, policy.currency)
    if explain:
        decision.steps.append(Step("fine", fine["rule"], "apply", f"{days} day(s) overdue from {counted_from}: {decision.amount}"))
    return decision


def overdue_days(due: dt.date, today: dt.date) -> int:
    return max(0, (today - due).days)


# ---------------------------------------------------------------- lost, damage, theft
@dataclass(frozen=True)
class LostItem:
    facts: Facts
    price: Decimal | None
    replacement_value: Decimal | None = None
    volumes_in_set: int | None = None
    set_price: Decimal | None = None
    important_work: bool = False


def lost_charges(
    policy: m.Policy,
    item: LostItem,
    *,
    first_reader: bool,
    replaced_by_copy: bool = False,
    multiple: Decimal | None = None,
    processing_fee: Decimal | None = None,
) -> Decision:
    """What a lost item costs: ``terms['charges']`` lists (fee_type, amount, rule)."""
    lost = policy.lost
    decision = Decision(ok=True)
    if replaced_by_copy:
        decision.terms["charges"] = [("processing", lost.replacement_copy_fee, "lost:replacement-copy")]
        decision.rule = "lost:replacement-copy"
        decision.steps.append(Step("lost", "replacement-copy", "apply", f"identical copy given: processing fee {lost.replacement_copy_fee}"))
        return decision
    base = _lost_base_value(lost, item)
    if base is None:
        return decision.refuse(Reason.INVALID_REQUEST, Step("lost", None, "refuse", "the item has no price to compute a charge from"))
    if lost.multiple_range is not None:
        low, high = lost.multiple_range
        if multiple is None or not low <= multiple <= high:
            return decision.refuse(Reason.OUT_OF_RANGE, Step(
                "lost", "multiple_range", "refuse", f"staff must choose a multiple between {low} and {high}"))
        rule_id = "multiple_range"
    else:
        if multiple is not None:
            return decision.refuse(Reason.NOT_PERMITTED, Step("lost", None, "refuse", "this policy sets the multiple; staff may not"))
        rule = lost.rules.first(item.facts)
        if rule is None:
            return decision.refuse(Reason.INVALID_REQUEST, Step("lost", None, "refuse", "no lost-item rule applies to this item"))
        multiple, rule_id = rule.multiple, rule.id
    surcharge = lost.first_reader_surcharge if first_reader else Decimal(0)
    amount = round_to(base * (multiple + surcharge), policy.currency)
    decision.steps.append(Step("lost", rule_id, "apply", f"{base} x ({multiple} + first-reader {surcharge}) = {amount}"))
    charges = [("lost", amount, f"lost:{rule_id}")]
    fee = lost.processing_fee if lost.processing_fee is not None else processing_fee
    if fee is None:
        return decision.refuse(Reason.INVALID_REQUEST, Step("lost", "processing_fee", "refuse", "staff must enter the processing cost"))
    if fee:
        charges.append(("processing", fee, "lost:processing_fee"))
    decision.rule = f"lost:{rule_id}"
    decision.terms["charges"] = charges
    return decision


def _lost_base_value(lost: m.LostPolicy, item: LostItem) -> Decimal | None:
    if lost.base_value == "replacement_value_or_price" and item.replacement_value is not None:
        return item.replacement_value
    if item.volumes_in_set and item.set_price is not None:
        if item.important_work:
            return item.set_price
        if lost.multi_volume == "set_share" or item.price is None:
            return item.set_price / item.volumes_in_set
    return item.price


def damage_charge(
    policy: m.Policy,
    item: Facts,
    price: Decimal | None,
    kind_id: str,
    *,
    units: int = 1,
    cleanable: bool = False,
    binding: str | None = None,
    extra: Decimal = Decimal(0),
) -> Decision:
    decision = Decision(ok=True)
    kind = policy.damage.kinds.get(kind_id)
    if kind is None:
        return decision.refuse(Reason.INVALID_REQUEST, Step("damage", None, "refuse", f"unknown damage kind {kind_id!r}"))
    if units < 1:
        return decision.refuse(Reason.INVALID_REQUEST, Step("damage", kind_id, "refuse", "units must be at least 1"))
    amount = kind.amount * (units if kind.per_unit else 1)
    detail = [f"{kind.amount} x {units}" if kind.per_unit else f"{kind.amount}"]
    multiplier = policy.damage.multipliers.first(item)
    uncapped = False
    if multiplier is not None and kind_id in multiplier.applies_to:
        amount *= multiplier.multiple
        uncapped = multiplier.uncapped
        detail.append(f"x {multiplier.multiple} ({multiplier.id})")
    if cleanable and kind.cleanable_factor is not None:
        amount *= kind.cleanable_factor
        detail.append(f"x {kind.cleanable_factor} (patron can clean it)")
    if kind.cap_at_price and not uncapped and price is not None and amount > price:
        amount = price
        detail.append(f"capped at the price {price}")
    if kind.rebinding:
        if binding not in policy.damage.rebinding:
            return decision.refuse(Reason.INVALID_REQUEST, Step(
                "damage", kind_id, "refuse", f"binding must be one of {', '.join(policy.damage.rebinding)}"))
        amount += policy.damage.rebinding[binding]
        detail.append(f"+ {policy.damage.rebinding[binding]} rebinding ({binding})")
    if extra:
        amount += extra
        detail.append(f"+ {extra} copying cost")
    decision.amount = round_to(amount, policy.currency)
    decision.rule = f"damage:{kind_id}"
    decision.steps.append(Step("damage", kind_id, "apply", " ".join(detail) + f" = {decision.amount}"))
    return decision


def theft_charge(policy: m.Policy, items: Sequence[tuple[Facts, Decimal | None]]) -> Decision:
    decision = Decision(ok=True, amount=Decimal(0))
    for facts, price in items:
        rule = policy.theft.first(facts)
        if rule is None or price is None:
            return decision.refuse(Reason.INVALID_REQUEST, Step("theft", None, "refuse", "no theft rule or no price for an item"))
        decision.amount += price * rule.multiple
        decision.steps.append(Step("theft", rule.id, "apply", f"{price} x {rule.multiple}"))
        decision.rule = f"theft:{rule.id}"
    decision.amount = round_to(decision.amount, policy.currency)
    return decision


# ---------------------------------------------------------------- deposits
def deposit_deduction(policy: m.Policy, deposit_taken: Decimal, days_overdue: int, days_already_deducted: int) -> Decision:
    """The deposit penalty for a loan ``days_overdue`` days late, for the days not yet deducted."""
    rules = policy.deposits
    decision = Decision(ok=True, amount=Decimal(0))
    if rules.deduction_after_days is None:
        return decision
    chargeable_days = max(0, days_overdue - rules.deduction_after_days)
    new_days = chargeable_days - days_already_deducted
    if new_days <= 0:
        return decision
    per_day = round_to(deposit_taken * rules.deduction_percent_per_day / 100, policy.currency)
    decision.amount = per_day * new_days
    decision.rule = "deposit:overdue_deduction"
    decision.terms["days"] = chargeable_days
    decision.steps.append(Step("deposit", "overdue_deduction", "apply",
                               f"{new_days} day(s) past {rules.deduction_after_days} overdue: {new_days} x "
                               f"{rules.deduction_percent_per_day}% of {deposit_taken}"))
    return decision
