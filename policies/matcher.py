"""Choosing the rule that applies: explicit priority first, then most specific.

Precedence, documented in docs/policy-language.md:

1. Among the rules whose conditions all hold, the highest ``priority`` wins
   (default 0).
2. Among those, the rule with the most conditions wins (most specific).
3. Two rules with equal priority and specificity that could both hold for
   the same facts make the rule set ambiguous: the loader rejects the policy
   naming both rules, so a tie never has to be broken at run time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from policies.conditions import Conditions, Facts


@dataclass(frozen=True)
class Rule:
    """What every rule kind shares: an id, its conditions and a priority."""

    id: str
    when: Conditions
    priority: int = 0

    @property
    def rank(self) -> tuple[int, int]:
        return (self.priority, self.when.specificity)


R = TypeVar("R", bound=Rule)
V = TypeVar("V")

MEMO_SIZE = 4096  # distinct fact combinations remembered per memo


class FactMemo(Generic[V]):
    """Answers that depend only on a few facts, remembered by those facts' values (policies never change once loaded).

    1 and True are equal but different facts, so values are remembered with their types; except that when
    every value is text or absent, the values alone are the key (the cheap, common case: a tuple of text
    and None can only equal another such tuple).  Unhashable values are never remembered.
    """

    def __init__(self, keys: Iterable[str], compute: Callable[[Facts], V]):
        self.keys: tuple[str, ...] = tuple(sorted(set(keys)))
        self.compute = compute
        self.plain: dict[tuple, V] = {}
        self.typed: dict[tuple, V] = {}

    def get(self, facts: Facts) -> V:
        values = tuple(map(facts.get, self.keys))
        try:
            return self.plain[values]
        except KeyError:
            pass
        except TypeError:  # an unhashable fact: decide without remembering
            return self.compute(facts)
        if all(value is None or value.__class__ is str for value in values):
            memo, key = self.plain, values
        else:
            memo, key = self.typed, (values, tuple(map(type, values)))
            if key in memo:
                return memo[key]
        if len(memo) >= MEMO_SIZE:
            memo.clear()
        answer = memo[key] = self.compute(facts)
        return answer


@dataclass(frozen=True)
class Match(Generic[R]):
    """The chosen rule and the ones it beat, for ``explain``."""

    rule: R | None
    beaten: tuple[R, ...]


class RuleSet(Generic[R]):
    """An ordered collection of one kind of rule, matched by precedence."""

    def __init__(self, rules: Sequence[R]):
        self.rules: tuple[R, ...] = tuple(sorted(rules, key=lambda r: r.rank, reverse=True))
        # The facts the rules look at: ``first`` depends on nothing else, so its answer is memoised by them.
        self._chosen: FactMemo[R | None] = FactMemo((c.key for r in self.rules for c in r.when.items), self._search)
        # Rules that look at no fact at all have no conditions: the first of them always wins.
        self._always: R | None = self.rules[0] if self.rules and not self._chosen.keys else None

    def __iter__(self):
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def first(self, facts: Facts) -> R | None:
        """The winning rule, or None if no rule applies (the fast path, memoised by the facts the rules read)."""
        if self._always is not None:
            return self._always
        return self._chosen.get(facts)

    def _search(self, facts: Facts) -> R | None:
        for rule in self.rules:
            if rule.when.holds(facts):
                return rule
        return None

    def match(self, facts: Facts) -> Match[R]:
        """The winning rule and every other rule that also applied."""
        applying = [r for r in self.rules if r.when.holds(facts)]
        return Match(applying[0] if applying else None, tuple(applying[1:]))

    def ambiguities(self) -> Iterable[tuple[R, R]]:
        """Pairs of rules that tie on precedence and could both apply."""
        for i, a in enumerate(self.rules):
            for b in self.rules[i + 1 :]:
                if b.rank != a.rank:
                    break
                if a.when.can_overlap(b.when):
                    yield a, b
