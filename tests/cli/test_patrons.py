"""`ils-bridge patrons`: registration and approval, accounts, blocks, bans, PINs, clearance, lists, history."""

from __future__ import annotations

from tests.cli.conftest import patron_with_card, title_with_item


def test_register_and_show_an_account(xuzhou):
    out = xuzhou.json("patrons", "register", "20230001", "Li Wei", "--type", "phd", "--email", "li@example.edu",
                      "--field", "anatomy")
    assert (out["ok"], out["data"]["status"], out["rule"]) == (True, "active", "registration:open")
    account = xuzhou.json("patrons", "show", "20230001")
    assert (account["name"], account["patron_type"], account["email"]) == ("Li Wei", "phd", "li@example.edu")
    assert account["standing"]["reason"] == "no_card"
    xuzhou("cards", "issue", "20230001", "C1", "--valid-until", "2099-01-01")
    title_with_item(xuzhou, "X1")
    xuzhou("desk", "checkout", "C1", "X1")
    table = xuzhou("patrons", "show", "C1").stdout  # by card number, as rich tables
    assert "Li Wei (20230001)" in table and "Title of X1" in table and "may borrow" in table


def test_register_refusals_write_nothing(xuzhou, table_counts):
    before = table_counts()
    xuzhou.fails("patrons", "register", "P1", "Someone", "--type", "professor", code=2, says="not one of this library's patron types")
    xuzhou.fails("patrons", "register", "P1", "Someone", "--type", "phd", "--birth-date", "1999-02-30",
                 code=2, says="--birth-date: '1999-02-30' is not a date")
    assert table_counts() == before
    xuzhou("patrons", "register", "P1", "Someone", "--type", "phd")
    xuzhou.fails("patrons", "register", "P1", "Other", "--type", "phd", code=1, says="duplicate")


def test_online_registration_waits_for_approval(daknong):
    assert daknong.json("patrons", "register", "R1", "Nguyen An", "--type", "reader")["data"]["status"] == "pending"
    assert [p["number"] for p in daknong.json("patrons", "list", "--status", "pending")] == ["R1"]
    daknong.fails("patrons", "approve", "R1", "--approver", " ", code=1, says="approval_required")
    daknong("patrons", "approve", "R1", "--approver", "Tran Thi B")
    assert daknong.json("patrons", "list", "--status", "pending") == []
    daknong.fails("patrons", "approve", "R1", "--approver", "Tran Thi B", code=1, says="invalid_state")
    daknong.fails("patrons", "approve", "NOBODY", "--approver", "x", code=3, says="unknown_patron")


def test_block_and_unblock(xuzhou):
    patron_with_card(xuzhou, "P1")
    title_with_item(xuzhou, "X1")
    xuzhou("patrons", "block", "P1", "--reason", "unpaid damage")
    xuzhou.fails("desk", "checkout", "P1", "X1", code=1, says="patron_blocked")
    xuzhou("patrons", "unblock", "P1")
    xuzhou("desk", "checkout", "P1", "X1")


def test_ban_asks_first_and_respects_the_policy_range(xuzhou, table_counts):
    patron_with_card(xuzhou, "P1")
    before = table_counts()
    declined = xuzhou("patrons", "ban", "P1", "--months", "3", "--reason", "theft", code=1, input="n\n")
    assert "Aborted" in declined.stderr
    xuzhou.fails("patrons", "ban", "P1", "--months", "9", "--reason", "theft", "--yes", code=1, says="out_of_range")
    xuzhou.fails("patrons", "ban", "P1", "--reason", "theft", "--yes", code=2, says="either --months or --until")
    assert table_counts() == before
    out = xuzhou.json("patrons", "ban", "P1", "--until", "2099-12-31", "--reason", "theft", "--confiscate-card", "--yes")
    assert out["data"]["banned_until"] == "2099-12-31"
    assert [c["status"] for c in xuzhou.json("cards", "history", "P1")] == ["confiscated"]
    assert xuzhou.json("patrons", "show", "P1")["standing"]["reason"] in ("patron_banned", "card_blocked")


def test_set_pin_given_or_asked(xuzhou):
    patron_with_card(xuzhou, "P1")
    xuzhou("patrons", "set-pin", "P1", "--pin", "4821")
    assert xuzhou.json("patrons", "show", "P1")["pin_set"] is True
    xuzhou("patrons", "set-pin", "P1", input="7777\n7777\n")
    xuzhou.fails("patrons", "set-pin", "P1", "--pin", "12", code=2, says="at least 4")


def test_clearance_and_leaving(xuzhou):
    patron_with_card(xuzhou, "P1")
    title_with_item(xuzhou, "X1")
    xuzhou("desk", "checkout", "P1", "X1")
    xuzhou.fails("patrons", "clearance", "P1", code=1, says="1 item(s) out")
    xuzhou("desk", "checkin", "X1")
    xuzhou("patrons", "clearance", "P1")
    assert xuzhou.json("patrons", "list", "--status", "left") == []
    xuzhou("patrons", "clearance", "P1", "--mark-left", "--yes")
    assert [p["number"] for p in xuzhou.json("patrons", "list", "--status", "left")] == ["P1"]


def test_history_lists_loans_and_money_newest_first(xuzhou):
    patron_with_card(xuzhou, "P1")
    title_with_item(xuzhou, "X1")
    xuzhou("desk", "checkout", "P1", "X1", "--at", "2026-03-02T10:00")
    xuzhou("desk", "checkin", "X1", "--at", "2026-06-10T10:00")
    events = xuzhou.json("patrons", "history", "P1")
    whats = [e["what"] for e in events if e["item"] == "X1"]
    assert whats.index("checkin") < whats.index("checkout")
    charge = next(e for e in events if e["what"] == "fees:charge")
    assert (charge["amount"], charge["detail"]) == ("4.00", "overdue")
    assert events[0]["at"] >= events[-1]["at"]
    assert len(xuzhou.json("patrons", "history", "P1", "--limit", "2")) == 2
    xuzhou.fails("patrons", "history", "NOBODY", code=3, says="unknown_patron")
