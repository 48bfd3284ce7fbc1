"""Simulation, explain and diff: the tools librarians use before they apply a policy."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from ils_bridge.cli.main import cli
from ils_bridge.reasons import Reason
from ils_bridge.simulation import simulate
from policies.diff import diff_policies
from policies.loader import load_policy
from tests.conftest import EXAMPLES, REPO, example_policy
from tests.core.helpers import patron_with_card, title_with_copies

SCENARIOS = REPO / "policies" / "scenarios"


def run(policy: str, events: list[dict]) -> list[dict]:
    return list(simulate(example_policy(policy), [json.dumps(e) for e in events]))


def at(day: str) -> str:
    return f"{day}T10:00:00+07:00"


def test_shipped_scenario_reproduces_the_vacation_rules():
    results = list(simulate(example_policy("xuzhou"), (SCENARIOS / "xuzhou-vacation.jsonl").read_text().splitlines()))
    checkins = [r for r in results if r["op"] == "checkin"]
    assert checkins[0]["fees"] == [] and checkins[0]["rule"] == "fine:grace-vacation"
    assert checkins[1]["fees"] == [{"type": "overdue", "amount": "5.90", "currency": "CNY"}]
    assert all(r["ok"] for r in results)


def test_simulated_hcmc_package_limits_and_due_dates():
    events = [
        {"op": "patron", "at": at("2026-03-02"), "id": "R1", "type": "reader", "package": "package-200k"},
        {"op": "item", "at": at("2026-03-02"), "barcode": "A", "title": "t1", "material": "book", "price": "200000", "copies": 2},
        {"op": "item", "at": at("2026-03-02"), "barcode": "B", "title": "t2", "material": "book", "price": "150000", "copies": 2},
        {"op": "item", "at": at("2026-03-02"), "barcode": "C", "title": "t3", "material": "book", "price": "10000", "copies": 1},
        {"op": "checkout", "at": at("2026-03-05"), "patron": "R1", "item": "A"},
        {"op": "checkout", "at": at("2026-03-05"), "patron": "R1", "item": "B"},
        {"op": "checkout", "at": at("2026-03-05"), "patron": "R1", "item": "C"},
    ]
    results = run("hcmc", events)
    assert results[0]["fees"] == [{"type": "package", "amount": "200000", "currency": "VND"}]
    assert results[4]["due"] == "2026-04-04"  # 30 days from Thursday 5 March is a Saturday: open
    assert (results[5]["ok"], results[5]["reason"]) == (False, "package_value_exceeded")
    assert results[6]["reason"] == "single_copy_title"


def test_simulated_danang_deposit_deduction_on_a_tick():
    events = [
        {"op": "patron", "at": at("2026-03-02"), "id": "G1", "type": "undergraduate", "group": "member_student", "deposit": "100000"},
        {"op": "item", "at": at("2026-03-02"), "barcode": "M", "title": "m", "material": "vn_monograph", "language": "vie", "copies": 2},
        {"op": "checkout", "at": at("2026-03-02"), "patron": "G1", "item": "M"},
        {"op": "tick", "at": at("2026-04-16")},
        {"op": "checkin", "at": at("2026-04-16"), "item": "M"},
    ]
    results = run("danang", events)
    assert results[2]["due"] == "2026-03-16"
    assert results[3]["ok"] and results[3]["fees"] == []  # the deduction is taken from the deposit, not charged
    assert results[4]["fees"] == [{"type": "overdue", "amount": "62000", "currency": "VND"}]


def test_bad_event_lines_are_reported_and_replay_goes_on():
    lines = ["not json", json.dumps({"op": "fly", "at": at("2026-03-02")}), json.dumps({"op": "checkin", "item": "X"}),
             json.dumps({"op": "checkin", "at": at("2026-03-02"), "item": "X"})]
    results = list(simulate(example_policy("hcmc"), lines))
    assert [r["reason"] for r in results] == ["invalid_event", "invalid_event", "invalid_event", "item_not_checked_out"][:3] + ["unknown_item"]
    assert "line 2: unknown op 'fly'" in results[1]["message"]


def test_explain_gives_the_rule_chain(make_library):
    lib = make_library("xuzhou")
    patron_with_card(lib, "E1", "external")
    books = title_with_copies(lib, "SS", "zh_book", copies=3, classification="D61")
    lib.checkout("E1", books[0])
    lib.checkout("E1", books[1])
    explained = lib.explain("E1", books[2])
    assert (explained["ok"], explained["reason"], explained["rule"]) == (False, "limit_reached", "limit:external-social-science")
    assert explained["item"]["class"] == "ss" and explained["class_rule"] == "clc-social-science"
    assert [s["rule"] for s in explained["steps"]] == ["loan:social-science", "limit:total-external", "limit:external-social-science"]
    assert lib.explain("E1", books[0], "renew")["ok"] is True


def test_diff_lists_changed_rules_and_the_outcomes_they_change():
    old = load_policy(example_policy("danang"))
    new = load_policy(example_policy("danang").replace("{id: textbooks, when: {material: textbook}, period_days: 90}",
                                                        "{id: textbooks, when: {material: textbook}, period_days: 60}"))
    result = diff_policies(old, new)
    assert [(r.section, r.rule, r.change) for r in result.rules] == [("loans", "textbooks", "changed")]
    changed = {(o.patron["patron_type"], o.item["material"]) for o in result.outcomes}
    assert changed == {(t, "textbook") for t in ("staff", "postgraduate", "undergraduate")}
    assert diff_policies(old, old).empty


def test_policy_cli_validate_simulate_and_diff(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(cli, ["policy", "validate", str(EXAMPLES / "xuzhou.yaml")])
    assert ok.exit_code == 0 and "ok (library xuzhou)" in ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(example_policy("xuzhou").replace("period_days: 30}", "period_days: }", 1))
    failed = runner.invoke(cli, ["policy", "validate", str(bad)])
    assert failed.exit_code == 2 and f"{bad}:" in failed.stderr and "is blank" in failed.stderr
    simulated = runner.invoke(cli, ["policy", "simulate", "--policy", str(EXAMPLES / "xuzhou.yaml"),
                                    "--events", str(SCENARIOS / "xuzhou-vacation.jsonl")])
    lines = [json.loads(line) for line in simulated.output.splitlines()]
    assert simulated.exit_code == 0 and len(lines) == 9
    diffed = runner.invoke(cli, ["--json", "policy", "diff", str(EXAMPLES / "xuzhou.yaml"), str(EXAMPLES / "xuzhou.yaml")])
    assert json.loads(diffed.output) == {"rules": [], "outcomes": []}


def test_policy_cli_apply_history_explain_in_a_subprocess(tmp_path):
    url = f"sqlite:///{tmp_path / 'lib.db'}"
    from ils_bridge.app import App

    app = App.open(url, create=True)
    lib = app.create_library(example_policy("xuzhou"), author="setup")
    patron_with_card(lib, "U1", "undergraduate")
    title_with_copies(lib, "B", "zh_book", classification="R44")
    app.close()
    base = [sys.executable, "-m", "ils_bridge", "--database", url]
    applied = subprocess.run([*base, "policy", "apply", str(EXAMPLES / "xuzhou.yaml"), "--author", "Li", "--message", "again"],
                             capture_output=True, text=True)
    assert applied.returncode == 0, applied.stderr
    history = subprocess.run([*base, "--json", "policy", "history"], capture_output=True, text=True)
    assert [v["version"] for v in json.loads(history.stdout)] == [1, 2]
    explained = subprocess.run([*base, "--json", "policy", "explain", "--patron", "U1", "--item", "B-0"], capture_output=True, text=True)
    assert json.loads(explained.stdout)["rule"] == "loan:natural-science"
    unknown = subprocess.run([*base, "policy", "explain", "--patron", "NOBODY", "--item", "B-0"], capture_output=True, text=True)
    assert unknown.returncode != 0 and "Traceback" not in unknown.stderr and unknown.stderr.count("\n") == 1
    assert Reason.UNKNOWN_PATRON.value in unknown.stderr


def test_simulate_recent_transactions_against_a_candidate_policy(tmp_path):
    from ils_bridge.app import App

    url = f"sqlite:///{tmp_path / 'lib.db'}"
    app = App.open(url, create=True)  # the system clock, as the CLI's "last DAYS days" uses
    lib = app.create_library(example_policy("xuzhou"), author="setup")
    patron_with_card(lib, "U1", "undergraduate")
    books = title_with_copies(lib, "NS", "zh_book", copies=3, classification="R44", price="20.00")
    for barcode in books:
        assert lib.checkout("U1", barcode).ok
    lib.checkin(books[0])
    app.close()
    stricter = tmp_path / "stricter.yaml"
    stricter.write_text(example_policy("xuzhou").replace("{id: total-students, when: {patron_type: [undergraduate, master]}, max_items: 30}",
                                                          "{id: total-students, when: {patron_type: [undergraduate, master]}, max_items: 2}"))
    result = CliRunner().invoke(cli, ["--database", url, "policy", "simulate", "--policy", str(stricter), "--recent", "7"])
    assert result.exit_code == 0, result.output
    changes = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(c["with_policy"]["reason"], c["with_compare"]["ok"]) for c in changes] == [("limit_reached", True)]
    assert "1 of" in result.stderr
    same = CliRunner().invoke(cli, ["--database", url, "policy", "simulate", "--policy", str(EXAMPLES / "xuzhou.yaml"), "--recent", "7"])
    assert same.stdout == "" and "0 of" in same.stderr
    neither = CliRunner().invoke(cli, ["--database", url, "policy", "simulate", "--policy", str(stricter)])
    assert neither.exit_code == 2 and "--events FILE or --recent DAYS" in neither.stderr
