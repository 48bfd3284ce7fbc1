"""Conditions: the ``when:`` part of a policy rule.

A rule applies when every condition holds for the facts of a decision (the
patron's type, group and package; the item's material, class, language,
classification, publication year, ...).  Forms, as written in a policy file::

    material: zh_book                 # equal
    material: [zh_book, foreign_book] # one of
    language: {not: vie}              # none of (a value or a list)
    classification: {prefix: [A, B]}  # starts with one of
    pub_year: {min: 1986, max: 1990}  # inclusive range (either end optional)
    package: null                     # the fact is absent

The matcher needs two things of conditions: whether they hold for some facts,
and whether two rules' conditions could hold at once (to reject ambiguous
rule sets when the policy is loaded instead of guessing at run time).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Facts = Mapping[str, Any]


@dataclass(frozen=True)
class Condition:
    key: str
    op: str  # in | not_in | prefix | range | absent
    values: tuple[Any, ...] = ()
    low: int | None = None
    high: int | None = None

    def holds(self, facts: Facts) -> bool:
        value = facts.get(self.key)
        if self.op == "absent":
            return value is None
        if value is None:
            return False
        if self.op == "in":
            return value in self.values
        if self.op == "not_in":
            return value not in self.values
        if self.op == "prefix":
            text = str(value)
            return any(text.startswith(p) for p in self.values)
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    def describe(self) -> str:
        if self.op == "absent":
            return f"{self.key} is not set"
        if self.op == "in":
            return f"{self.key} = {_list(self.values)}"
        if self.op == "not_in":
            return f"{self.key} is not {_list(self.values)}"
        if self.op == "prefix":
            return f"{self.key} starts with {_list(self.values)}"
        if self.low is not None and self.high is not None:
            return f"{self.low} <= {self.key} <= {self.high}"
        return f"{self.key} >= {self.low}" if self.low is not None else f"{self.key} <= {self.high}"


def _list(values: tuple[Any, ...]) -> str:
    return str(values[0]) if len(values) == 1 else "one of " + ", ".join(map(str, values))


def can_both_hold(a: Condition, b: Condition) -> bool:
    """Whether some value of the fact satisfies both conditions (conservative: True when unsure)."""
    if a.op == "absent" or b.op == "absent":
        return a.op == b.op
    ops = {a.op, b.op}
    if ops == {"in"}:
        return bool(set(a.values) & set(b.values))
    if ops == {"in", "not_in"}:
        inside, outside = (a, b) if a.op == "in" else (b, a)
        return bool(set(inside.values) - set(outside.values))
    if ops == {"prefix"}:
        return any(p.startswith(q) or q.startswith(p) for p in a.values for q in b.values)
    if ops == {"in", "prefix"}:
        inside, prefixed = (a, b) if a.op == "in" else (b, a)
        return any(prefixed.holds({a.key: v}) for v in inside.values)
    if ops == {"range"}:
        low = max(x for x in (a.low, b.low, -(10**12)) if x is not None)
        high = min(x for x in (a.high, b.high, 10**12) if x is not None)
        return low <= high
    if ops == {"in", "range"}:
        inside, ranged = (a, b) if a.op == "in" else (b, a)
        return any(ranged.holds({a.key: v}) for v in inside.values)
    return True


@dataclass(frozen=True)
class Conditions:
    """All conditions of one rule (an empty set matches everything)."""

    items: tuple[Condition, ...] = ()

    @property
    def specificity(self) -> int:
        return len(self.items)

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(c.key for c in self.items)

    def holds(self, facts: Facts) -> bool:
        for condition in self.items:  # a loop, not all() over a generator: limits ask this for every loan out
            if not condition.holds(facts):
                return False
        return True

    def failing(self, facts: Facts) -> list[Condition]:
        return [c for c in self.items if not c.holds(facts)]

    def can_overlap(self, other: Conditions) -> bool:
        """Whether some facts could satisfy both rule condition sets."""
        for mine in self.items:
            for theirs in other.items:
                if mine.key == theirs.key and not can_both_hold(mine, theirs):
                    return False
        return True

    def describe(self) -> str:
        return " and ".join(c.describe() for c in self.items) or "always"
