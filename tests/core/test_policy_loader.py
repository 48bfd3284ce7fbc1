"""Policy files: the examples load, and bad files are rejected with file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies.loader import PolicyError, load_policy, load_policy_file

EXAMPLES = sorted((Path(__file__).parents[2] / "policies" / "examples").glob("*.yaml"))
MINIMAL = """\
policy: ils-bridge/1
library: {code: test, name: Test, currency: CNY, timezone: Asia/Shanghai, language: zh}
vocabulary: {patron_types: [reader], materials: [book, map]}
loans:
  rules:
    - {id: books, period_days: 14}
fines: {rules: []}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        load_policy(text, "p.yaml")
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_policy_loads(path):
    policy = load_policy_file(path)
    assert policy.library.code == path.stem and len(policy.loans) > 0


def test_the_minimal_policy_loads():
    assert load_policy(MINIMAL).loans.first({"material": "book"}).period_days == 14


def test_yaml_syntax_error_names_the_line():
    assert problems(MINIMAL + "limits: [\n")[0].startswith("p.yaml:")


def test_duplicate_key_is_an_error_not_last_one_wins():
    found = problems(MINIMAL.replace("fines: {rules: []}", "fines: {rules: []}\nfines: {rules: []}"))
    assert found == ["p.yaml:8: (top): key 'fines' is given twice"]


def test_blank_value_is_rejected_never_read_as_zero():
    found = problems(MINIMAL + "limits:\n  - {id: total, max_items: }\n")
    assert found == ["p.yaml:9: limits.0.max_items: is blank: give a value (a blank is never read as zero)"]


def test_unknown_field_is_named():
    found = problems(MINIMAL.replace("period_days: 14", "period_days: 14, perod: 3"))
    assert len(found) == 1 and "p.yaml:6: loans.rules.0:" in found[0] and "perod" in found[0]


def test_value_outside_the_vocabulary_is_named_with_its_line():
    found = problems(MINIMAL.replace("{id: books, period_days: 14}", "{id: books, when: {material: bok}, period_days: 14}"))
    assert found == ["p.yaml:6: loans.rules.0.when.material: 'bok' is not a declared material (book, map)"]


def test_loanable_rule_without_a_period_is_rejected():
    found = problems(MINIMAL.replace("{id: books, period_days: 14}", "{id: books, when: {material: book}}"))
    assert "needs period_days" in found[0] and found[0].startswith("p.yaml:6:")


def test_ambiguous_rules_are_rejected_at_load_time():
    text = MINIMAL.replace(
        "    - {id: books, period_days: 14}",
        "    - {id: books, when: {material: book}, period_days: 14}\n"
        "    - {id: readers, when: {patron_type: reader}, period_days: 7}")
    found = problems(text)
    assert "rules 'books' and 'readers'" in found[0] and "could both apply" in found[0]
    fixed = text.replace("period_days: 7}", "period_days: 7, priority: 1}")
    assert load_policy(fixed).loans.first({"material": "book", "patron_type": "reader"}).id == "readers"


def test_exclusive_rules_of_equal_rank_are_not_ambiguous():
    text = MINIMAL.replace(
        "    - {id: books, period_days: 14}",
        "    - {id: books, when: {material: book}, period_days: 14}\n"
        "    - {id: maps, when: {material: map}, period_days: 7}")
    assert load_policy(text).loans.first({"material": "map"}).id == "maps"


def test_amount_finer_than_the_currency_is_rejected():
    found = problems(MINIMAL.replace("fines: {rules: []}", "fines: {rules: [{id: f, per_day: 0.001}]}"))
    assert "more than 2 decimal places for CNY" in found[0]
    vnd = MINIMAL.replace("currency: CNY", "currency: VND").replace("fines: {rules: []}", "fines: {rules: [{id: f, per_day: 1000.5}]}")
    assert "more than 0 decimal places for VND" in problems(vnd)[0]


def test_contradictory_values_are_rejected():
    assert "min 5 is greater than max 1" in problems(
        MINIMAL + "cards: {ban_months: {min: 5, max: 1}}\n")[0]
    assert "ends (2026-01-01) before it starts" in problems(
        MINIMAL + "calendar: {closures: [{from: 2026-02-01, to: 2026-01-01, kind: holiday}]}\n")[0]
    assert "exactly one of per_day or flat" in problems(
        MINIMAL.replace("fines: {rules: []}", "fines: {rules: [{id: f, per_day: 1, flat: 2}]}"))[0]


def test_unknown_currency_and_timezone():
    found = problems(MINIMAL.replace("currency: CNY", "currency: XYZ").replace("Asia/Shanghai", "Mars/Base"))
    assert any("unknown currency 'XYZ'" in p for p in found) and any("unknown timezone" in p for p in found)


def test_every_problem_is_reported_at_once():
    text = MINIMAL.replace("{id: books, period_days: 14}", "{id: books, when: {material: bok}}")
    assert len(problems(text)) == 2


def test_every_reason_code_is_documented():
    from ils_bridge.reasons import Reason

    documented = (Path(__file__).parents[2] / "docs" / "reason-codes.md").read_text(encoding="utf-8")
    assert [r.value for r in Reason if f"`{r.value}`" not in documented] == []
