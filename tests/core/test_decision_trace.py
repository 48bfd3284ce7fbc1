"""Decisions are reached alike whether or not their explanation is recorded.

``decide_checkout``, ``decide_renewal`` and ``overdue_fine`` skip building their
steps unless ``explain`` asks for them, except that a refusal always carries its
whole chain.  These tests decide a spread of cases from every example policy
both ways and hold the two to the same outcome.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from decimal import Decimal

import pytest

from ils_bridge.calendar import LibraryCalendar
from policies import model as m
from policies.decisions import (
    Account,
    CurrentLoan,
    RenewalFacts,
    classify,
    decide_checkout,
    decide_renewal,
    loan_terms,
    overdue_fine,
)
from policies.loader import load_policy
from tests.conftest import example_policy

POLICIES = ("xuzhou", "danang", "hcmc", "jinan", "daknong")
TODAY = dt.date(2026, 3, 2)
CASES = 400  # sampled per policy from the grid below


def _setting(name: str) -> tuple[m.Policy, LibraryCalendar]:
    policy = load_policy(example_policy(name), f"{name}.yaml")
    calendar = LibraryCalendar(policy.library.timezone, policy.calendar.weekly_closed, list(policy.calendar.closures))
    return policy, calendar


def _checkout_cases(policy: m.Policy) -> list[tuple[Account, dict, Decimal]]:
    vocabulary = policy.vocabulary
    grid = itertools.product(
        vocabulary["patron_types"], [None, *vocabulary.get("patron_groups", ())], [None, *policy.packages],
        [None, *policy.cards.kinds],
        vocabulary["materials"], ("D61", "R44", None), (1, 3), (0, 2, 60), (Decimal(0), Decimal(1000)), (0, 1),
        (Decimal(0), Decimal(10**6)),
    )
    chosen = random.Random(f"checkout-{policy.library.name}").sample(list(grid), CASES)
    cases = []
    for patron_type, group, package, card_kind, material, classification, copies, out, fines, overdue, deposit in chosen:
        item = classify(policy, {"material": material, "classification": classification, "copies": copies})
        loan = CurrentLoan(classify(policy, {"material": material, "classification": classification}), Decimal(40000))
        patron = {"patron_type": patron_type, "patron_group": group, "package": package, "card_kind": card_kind}
        cases.append((Account(patron, [loan] * out, fines, overdue, deposit), item, Decimal(40000)))
    return cases


@pytest.mark.parametrize("name", POLICIES)
def test_checkout_decided_alike_with_and_without_explanation(name: str) -> None:
    policy, calendar = _setting(name)
    outcomes = {True: 0, False: 0}
    for account, item, price in _checkout_cases(policy):
        fast = decide_checkout(policy, calendar, account, item, price, TODAY)
        traced = decide_checkout(policy, calendar, account, item, price, TODAY, explain=True)
        assert (fast.ok, fast.reason, fast.rule, fast.due, fast.terms) == \
            (traced.ok, traced.reason, traced.rule, traced.due, traced.terms)
        assert traced.steps, "an explained decision shows at least the rule that decided"
        if fast.ok:
            assert fast.steps == []
            assert traced.steps[0].section == "loan" and traced.steps[0].verdict == "apply"
        else:
            assert fast.steps == traced.steps  # a refusal carries the rules it passed and the one that refused
            assert traced.steps[-1].verdict == "refuse" and traced.steps[-1].rule_ref == fast.rule
        outcomes[fast.ok] += 1
    assert outcomes[True] and outcomes[False], outcomes


@pytest.mark.parametrize("name", POLICIES)
def test_renewal_and_fine_decided_alike_with_and_without_explanation(name: str) -> None:
    policy, calendar = _setting(name)
    terms = [loan_terms(rule, policy.fines.rules.first({})) for rule in policy.loans if rule.loanable]
    grid = itertools.product(terms, (0, 1, 2, 5), (-3, 0, 4, 40), (False, True), (Decimal(0), Decimal(5)),
                             (False, True), (False, True))
    outcomes = {True: 0, False: 0}
    for loan_terms_, done, late, on_hold, fines, expired, recalled in grid:
        due = TODAY - dt.timedelta(days=late)
        facts = RenewalFacts(loan_terms_, "loan:some-rule", done, due, on_hold, fines, expired, recalled)
        fast = decide_renewal(policy, calendar, facts, TODAY)
        traced = decide_renewal(policy, calendar, facts, TODAY, explain=True)
        assert (fast.ok, fast.reason, fast.rule, fast.due) == (traced.ok, traced.reason, traced.rule, traced.due)
        if fast.ok:
            assert fast.steps == [] and [s.verdict for s in traced.steps] == ["apply"]
        else:
            assert fast.steps == traced.steps and [s.verdict for s in fast.steps] == ["refuse"]
        outcomes[fast.ok] += 1
        fine, fine_traced = (overdue_fine(policy, calendar, loan_terms_, due, TODAY, explain=explain)
                             for explain in (False, True))
        assert (fine.amount, fine.rule) == (fine_traced.amount, fine_traced.rule)
        assert fine.steps == [] and len(fine_traced.steps) == (1 if fine.rule else 0)
    assert outcomes[False], outcomes
    assert outcomes[True] or all(t["renewals"] == 0 for t in terms), outcomes
