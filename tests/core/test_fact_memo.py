"""The rule memo remembers answers by fact values without confusing equal values of different types."""

from __future__ import annotations

from policies.conditions import Condition, Conditions
from policies.matcher import Rule, RuleSet


def _rules() -> RuleSet[Rule]:
    starts_with_1 = Rule("starts-with-1", Conditions((Condition("code", "prefix", ("1",)),)), priority=1)
    return RuleSet([starts_with_1, Rule("fallback", Conditions())])


def test_equal_values_of_different_types_are_remembered_apart() -> None:
    rules = _rules()
    # 1 == True and hash(1) == hash(True), but str(1) starts with "1" and str(True) does not.
    for _ in range(2):  # the second round answers from the memo
        assert rules.first({"code": 1}).id == "starts-with-1"
        assert rules.first({"code": True}).id == "fallback"
        assert rules.first({"code": "1"}).id == "starts-with-1"
        assert rules.first({"code": "True"}).id == "fallback"
        assert rules.first({}).id == "fallback"


def test_unhashable_facts_are_decided_without_remembering() -> None:
    rules = _rules()
    assert rules.first({"code": ["1"]}).id == "fallback"  # str(["1"]) starts with "["
