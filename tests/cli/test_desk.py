"""`ils-bridge desk`: circulation at the desk, one barcode or a pile of them."""

from __future__ import annotations

import json

from tests.cli.conftest import patron_with_card, title_with_item


def test_checkout_and_late_checkin_charge_the_policy_fine(xuzhou):
    patron_with_card(xuzhou, "P1")
    title_with_item(xuzhou, "X1")
    out = xuzhou.json("desk", "checkout", "P1", "X1", "--at", "2026-03-02T10:00")
    assert out["due"].startswith("2026-05-01T23:59") and out["rule"] == "loan:natural-science"  # 60 days for NS
    back = xuzhou("desk", "checkin", "X1", "--at", "2026-06-10T10:00").stdout
    assert "checked in X1" in back and "overdue fee 4.00 CNY" in back  # 40 days at 0.10
    assert xuzhou.json("items", "show", "X1")["status"] == "available"


def test_bad_input_is_one_line_and_writes_nothing(xuzhou, table_counts):
    patron_with_card(xuzhou, "P1")
    title_with_item(xuzhou, "X1")
    before = table_counts()
    xuzhou.fails("desk", "checkout", "P1", "NOPE", code=3, says="unknown_item")
    xuzhou.fails("desk", "checkout", "NOBODY", "X1", code=3, says="unknown_patron")
    xuzhou.fails("desk", "checkout", "P1", "X1", "--at", "2026-02-30T10:00", code=2, says="--at: '2026-02-30T10:00' is not a time")
    xuzhou.fails("desk", "checkin", "X1", code=1, says="item_not_checked_out")
    xuzhou.fails("desk", "recall", "X1", "--new-due", "soon", code=2, says="is not a date")
    xuzhou.fails("desk", "lost", "X1", "--multiple", "-2", "--yes", code=2, says="not a positive number")
    assert table_counts() == before


def test_renew_and_renew_all(xuzhou):
    patron_with_card(xuzhou, "P1", "master")
    title_with_item(xuzhou, "X1")
    title_with_item(xuzhou, "X2", classification="D61")
    xuzhou("desk", "checkout", "P1", "X1", "X2", "--at", "2026-03-02T10:00")
    renewed = xuzhou.json("desk", "renew", "P1", "X1", "--at", "2026-03-20T10:00")
    assert renewed["due"].startswith("2026-05-19")  # 60 days from the renewal day
    xuzhou.fails("desk", "renew", "P1", "X1", "--at", "2026-03-21T10:00", code=1, says="renewal_limit")
    both = xuzhou.json("desk", "renew-all", "P1", "--at", "2026-03-22T10:00")
    assert [r["item"] for r in both["data"]["renewed"]] == ["X2"]
    assert [(r["item"], r["reason"]) for r in both["data"]["refused"]] == [("X1", "renewal_limit")]


def test_hold_trap_and_cancel(xuzhou):
    patron_with_card(xuzhou, "P1")
    patron_with_card(xuzhou, "P2")
    title_id = title_with_item(xuzhou, "X1")
    xuzhou.fails("desk", "hold", "P2", code=2, says="either --item or --title-id")
    xuzhou("desk", "checkout", "P1", "X1")
    hold = xuzhou.json("desk", "hold", "P2", "--title-id", str(title_id))
    trapped = xuzhou.json("desk", "checkin", "X1")
    assert trapped["data"]["hold"]["patron"] == "P2"
    assert xuzhou.json("items", "show", "X1")["hold_for"] == "P2"
    xuzhou("desk", "cancel-hold", "P2", "--hold-id", str(hold["data"]["hold_id"]))
    assert xuzhou.json("items", "show", "X1")["status"] == "available"
    xuzhou.fails("desk", "cancel-hold", "P2", "--hold-id", "999", code=3, says="unknown_hold")


def test_recall_brings_the_due_date_forward(xuzhou):
    patron_with_card(xuzhou, "P1")
    title_with_item(xuzhou, "X1")
    xuzhou("desk", "checkout", "P1", "X1", "--at", "2026-03-02T10:00")
    out = xuzhou.json("desk", "recall", "X1", "--new-due", "2099-01-01")
    assert out["data"]["recall_notices"] == 1
    assert xuzhou.json("patrons", "show", "P1")["loans"][0]["recalled"] is True


def test_lost_found_damage_and_theft(xuzhou):
    patron_with_card(xuzhou, "P1")
    title_with_item(xuzhou, "X1")
    xuzhou("items", "update", "X1", "--set", "pub_year=2000")
    xuzhou("desk", "checkout", "P1", "X1")
    refused = xuzhou("desk", "lost", "X1", code=1, input="n\n")
    assert "Aborted" in refused.stderr and xuzhou.json("items", "show", "X1")["status"] == "checked_out"
    lost = xuzhou.json("desk", "lost", "X1", "--yes")
    assert [(f["type"], f["amount"]) for f in lost["fees"]] == [("lost", "75.00")]  # 2 x 30.00 + first reader 50%
    found = xuzhou.json("desk", "found", "X1")
    assert found["data"]["cancelled"] == "75.00"
    damage = xuzhou.json("desk", "damage", "X1", "torn_leaf", "--units", "2", "--binding", "paperback")
    assert damage["fees"][0]["type"] == "damage" and damage["rule"].startswith("damage:")
    theft = xuzhou.json("desk", "theft", "P1", "X1", "--yes")
    assert theft["fees"][0] == {"type": "theft", "amount": "600.00", "currency": "CNY", "entry_id": theft["fees"][0]["entry_id"]}


def test_a_pile_of_returns_reports_each_and_fails_if_any_was_refused(xuzhou, tmp_path):
    patron_with_card(xuzhou, "P1")
    barcodes = [f"X{n}" for n in range(8)]  # the last five are enough for a progress bar
    for barcode in barcodes:
        title_with_item(xuzhou, barcode)
    xuzhou("desk", "checkout", "P1", *barcodes)
    drop = tmp_path / "bookdrop.txt"
    drop.write_text("\n".join(barcodes[:3] + ["UNKNOWN", ""]) + "\n", encoding="utf-8")
    result = xuzhou("--json", "desk", "checkin", "--from-file", str(drop), code=1)
    outcomes = json.loads(result.stdout)
    assert [(o["item"], o["ok"]) for o in outcomes] == [("X0", True), ("X1", True), ("X2", True), ("UNKNOWN", False)]
    assert result.stderr.strip() == "error: 1 of 4 refused: UNKNOWN"
    table = xuzhou("desk", "checkin", *barcodes[3:]).stdout
    assert all(f"checked in {b}" in table for b in barcodes[3:])
    assert xuzhou.json("patrons", "show", "P1")["loans"] == []
