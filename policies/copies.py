"""How far a title's copies need counting for a policy's decisions.

Rules look at a title's copy count only by comparing it with numbers the
policy names: ``min_copies: 2``, ``when: {copies: 1}``, ``copies: {min: 3}``.
Above the largest such number every comparison comes out the same, so a
count that stops there decides exactly as the full count would.  Checkout
counts a title's usable copies on every call; with the count capped, a
textbook with hundreds of copies costs what a title with three does.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from policies.conditions import Condition
from policies.matcher import RuleSet

FACT = "copies"


def copy_count_cap(policy: Any) -> int:
    """One more than the largest copy count the policy names (at least 2: "one copy" vs "more")."""
    cached = policy.__dict__.get("_copy_count_cap")
    if cached is None:
        cached = 1 + max([1, *_named_counts(policy)])
        object.__setattr__(policy, "_copy_count_cap", cached)  # frozen dataclass: a cache beside its fields
    return cached


def _named_counts(node: Any) -> list[int]:
    """Every copy count written anywhere in a policy: in conditions on ``copies`` and as ``min_copies``."""
    if isinstance(node, Condition):
        if node.key != FACT:
            return []
        return [n for n in (*node.values, node.low, node.high) if isinstance(n, int)]
    if isinstance(node, RuleSet):
        return [n for rule in node for n in _named_counts(rule)]
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        found = [node.min_copies] if isinstance(getattr(node, "min_copies", None), int) else []
        return found + [n for f in dataclasses.fields(node) for n in _named_counts(getattr(node, f.name))]
    if isinstance(node, (tuple, list)):
        return [n for value in node for n in _named_counts(value)]
    if isinstance(node, dict):
        return [n for value in node.values() for n in _named_counts(value)]
    return []
