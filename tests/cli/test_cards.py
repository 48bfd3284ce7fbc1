"""`ils-bridge cards`: issue with fee, renew, report lost, replace keeping history, group cards."""

from __future__ import annotations

from tests.cli.conftest import title_with_item


def registered(cli, number: str, patron_type: str = "reader") -> None:
    cli("patrons", "register", number, f"Patron {number}", "--type", patron_type)
    cli("patrons", "approve", number, "--approver", "librarian")


def test_issue_charges_and_takes_the_card_fee(daknong):
    registered(daknong, "R1")
    out = daknong.json("cards", "issue", "R1", "D-1", "--kind", "borrowing", "--payment-type", "cash")
    assert out["fees"][0]["type"] == "card" and out["fees"][0]["amount"] == "20000"
    account = daknong.json("patrons", "show", "D-1")
    assert account["card"]["number"] == "D-1" and account["fees_owed"] == "0"  # charged and paid at once
    daknong.fails("cards", "issue", "R1", "D-1", code=1, says="in use")
    daknong.fails("cards", "issue", "R1", "D-2", "--kind", "platinum", code=2, says="not a card kind here")
    daknong.fails("cards", "issue", "NOBODY", "D-3", code=3, says="unknown_patron")


def test_renew_extends_validity(daknong):
    registered(daknong, "R1")
    first = daknong.json("cards", "issue", "R1", "D-1")["data"]["valid_until"]
    renewed = daknong.json("cards", "renew", "D-1", "--valid-until", "2099-12-31")
    assert renewed["data"]["valid_until"] == "2099-12-31" > first
    daknong.fails("cards", "renew", "D-1", "--valid-until", "31/12/2099", code=2, says="is not a date")


def test_lost_card_is_blocked_and_replaced_with_history(daknong):
    registered(daknong, "R1")
    daknong("cards", "issue", "R1", "D-1")
    daknong("cards", "report-lost", "D-1", "--yes")
    daknong("deposits", "take", "R1", "50000")
    title_id = daknong.json("items", "add-title", "Sach")["data"]["title_id"]
    daknong("items", "add", "B1", "--title-id", str(title_id), "--material", "book")
    daknong.fails("desk", "checkout", "D-1", "B1", code=1, says="card_lost")
    daknong.fails("cards", "replace", "D-1", "--yes", code=2, says="give the new number")  # Dak Nong issues new numbers
    out = daknong.json("cards", "replace", "D-1", "--new-number", "D-2", "--yes")
    assert out["data"]["number"] == "D-2"
    history = daknong.json("cards", "history", "R1")
    assert [(c["number"], c["status"], c["replaces"]) for c in history] == [("D-1", "replaced", None), ("D-2", "active", "D-1")]
    daknong("desk", "checkout", "D-2", "B1")


def test_replacement_keeps_the_number_where_the_policy_says(xuzhou):
    xuzhou("patrons", "register", "P1", "Li", "--type", "phd")
    xuzhou("cards", "issue", "P1", "C1", "--valid-until", "2099-01-01")
    xuzhou("cards", "replace", "C1", "--yes")
    assert [c["number"] for c in xuzhou.json("cards", "history", "P1")] == ["C1", "C1"]
    title_with_item(xuzhou, "X1")
    xuzhou("desk", "checkout", "C1", "X1")
    xuzhou.fails("cards", "report-lost", "NOCARD", "--yes", code=3, says="unknown_patron")


def test_group_card_discount_needs_the_approver(daknong, table_counts):
    registered(daknong, "ORG1", "organisation")
    before = table_counts()
    daknong.fails("cards", "group", "ORG1", "G1", "--members", "5", code=1, says="director")
    assert table_counts() == before
    out = daknong.json("cards", "group", "ORG1", "G1", "--members", "5", "--approver", "director Tran")
    assert out["rule"] == "cards:group.discount" and out["fees"][0]["amount"] == "140000"  # 200000 less 30%
    full = daknong.json("cards", "group", "ORG1", "G2", "--members", "12")
    assert full["rule"] == "cards:group" and full["fees"][0]["amount"] == "200000"
    assert "5 members; approved by director Tran" in [c["note"] for c in daknong.json("cards", "history", "ORG1")]
