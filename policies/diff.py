"""What changes between two policies: the rules, and the outcomes they give.

Rules are compared section by section by id.  Outcomes are compared over
the grid of patron types (x groups x packages) and materials (x classes)
that the two policies declare: for each combination, what a checkout would
be granted (or why refused) and which limits apply.  A change of a rule
that no combination notices is still listed among the rules.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, Iterable

from policies.conditions import Conditions
from policies.decisions import applicable_limits
from policies.model import Policy

RULE_SECTIONS = {
    "classes": lambda p: p.classes,
    "loans": lambda p: p.loans,
    "limits": lambda p: p.limits,
    "fines": lambda p: p.fines.rules,
    "lost": lambda p: p.lost.rules,
    "damage.multipliers": lambda p: p.damage.multipliers,
    "theft": lambda p: p.theft,
    "deposits": lambda p: p.deposits.required,
}
SETTING_SECTIONS = {
    "calendar": lambda p: p.calendar,
    "packages": lambda p: p.packages,
    "borrowing": lambda p: p.borrowing,
    "holds": lambda p: p.holds,
    "fines.grace": lambda p: (p.fines.grace, p.fines.grace_counts_from),
    "lost.settings": lambda p: {f.name: getattr(p.lost, f.name) for f in fields(p.lost) if f.name != "rules"},
    "damage.kinds": lambda p: (p.damage.kinds, p.damage.rebinding),
    "deposits.settings": lambda p: (p.deposits.deduction_after_days, p.deposits.deduction_percent_per_day,
                                    p.deposits.recall_notices_before_apply),
    "cards": lambda p: p.cards,
    "registration": lambda p: p.registration_approval,
    "waivers": lambda p: p.waiver_approvals,
    "ill": lambda p: p.ill,
    "notices": lambda p: p.notices,
}


@dataclass(frozen=True)
class RuleChange:
    section: str
    rule: str
    change: str  # added | removed | changed
    before: str | None
    after: str | None


@dataclass(frozen=True)
class OutcomeChange:
    patron: dict[str, Any]
    item: dict[str, Any]
    before: str
    after: str


@dataclass(frozen=True)
class PolicyDiff:
    rules: list[RuleChange]
    outcomes: list[OutcomeChange]

    @property
    def empty(self) -> bool:
        return not self.rules and not self.outcomes


def describe(value: Any) -> str:
    """A stable, readable rendering of a rule or setting for comparison."""
    if isinstance(value, Conditions):
        return value.describe()
    if is_dataclass(value):
        parts = [f"{f.name}={describe(getattr(value, f.name))}" for f in fields(value) if f.name not in ("id",)]
        return "(" + ", ".join(parts) + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {describe(v)}" for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))) + "}"
    if isinstance(value, (list, tuple, frozenset, set)):
        items = sorted(value) if isinstance(value, (frozenset, set)) else value
        return "[" + ", ".join(describe(v) for v in items) + "]"
    return str(value)


def _rules(rules: Iterable[Any]) -> dict[str, str]:
    return {rule.id: describe(rule) for rule in rules}


def diff_rules(old: Policy, new: Policy) -> list[RuleChange]:
    changes = []
    for section, get in RULE_SECTIONS.items():
        before, after = _rules(get(old)), _rules(get(new))
        for rule_id in sorted(before.keys() | after.keys()):
            if rule_id not in after:
                changes.append(RuleChange(section, rule_id, "removed", before[rule_id], None))
            elif rule_id not in before:
                changes.append(RuleChange(section, rule_id, "added", None, after[rule_id]))
            elif before[rule_id] != after[rule_id]:
                changes.append(RuleChange(section, rule_id, "changed", before[rule_id], after[rule_id]))
    for section, get in SETTING_SECTIONS.items():
        before, after = describe(get(old)), describe(get(new))
        if before != after:
            changes.append(RuleChange(section, "(settings)", "changed", before, after))
    return changes


def _values(old: Policy, new: Policy, name: str) -> list[Any]:
    values = set(old.vocabulary.get(name, ())) | set(new.vocabulary.get(name, ()))
    return sorted(values) or [None]


def combinations(old: Policy, new: Policy) -> Iterable[tuple[dict[str, Any], dict[str, Any]]]:
    packages = sorted(set(old.packages) | set(new.packages))
    package_values: list[Any] = [None, *packages] if packages else [None]
    for ptype, group, package, material, item_class in itertools.product(
        _values(old, new, "patron_types"), _values(old, new, "patron_groups"), package_values,
        _values(old, new, "materials"), _values(old, new, "classes"),
    ):
        patron = {"patron_type": ptype, "patron_group": group, "package": package}
        yield patron, {"material": material, "class": item_class, "copies": 99}


def loan_outcome(policy: Policy, patron: dict[str, Any], item: dict[str, Any]) -> str:
    facts = {**patron, **item}
    rule = policy.loans.first(facts)
    if rule is None:
        return "no rule: not loanable"
    if not rule.loanable:
        return f"refused: {rule.reason} ({rule.id})"
    fine = policy.fines.rules.first(facts)
    fine_text = "no fine" if fine is None else (f"fine {fine.per_day}/day" if fine.per_day is not None else f"fine {fine.flat} flat")
    limits = ", ".join(
        f"{limit.id}<={limit.max_items if limit.max_items is not None else ''}"
        f"{'/' + str(limit.max_value) if limit.max_value is not None else ''}"
        for limit in applicable_limits(policy, patron) if limit.counts is None or limit.counts.holds(item)
    )
    deposit = policy.deposits.required.first(facts)
    deposit_text = f", deposit {deposit.amount}" if deposit is not None and deposit.amount else ""
    return f"{rule.period_days} days, {rule.renewals} renewal(s), {fine_text}, limits [{limits}]{deposit_text} ({rule.id})"


def diff_policies(old: Policy, new: Policy) -> PolicyDiff:
    outcomes = []
    for patron, item in combinations(old, new):
        before, after = loan_outcome(old, patron, item), loan_outcome(new, patron, item)
        if before != after:
            outcomes.append(OutcomeChange({k: v for k, v in patron.items() if v is not None},
                                          {k: v for k, v in item.items() if v is not None and k != "copies"}, before, after))
    return PolicyDiff(diff_rules(old, new), outcomes)

