"""`ils-bridge fees`, `deposits` and `packages`: amounts as exact strings, checked by the services."""

from __future__ import annotations

from tests.cli.conftest import EXAMPLES, patron_with_card, title_with_item


def late_return(cli, patron: str = "P1", barcode: str = "X1") -> None:
    """A 4.00 CNY overdue fine in Xuzhou (40 days late at 0.10)."""
    patron_with_card(cli, patron)
    title_with_item(cli, barcode)
    cli("desk", "checkout", patron, barcode, "--at", "2026-03-02T10:00")
    cli("desk", "checkin", barcode, "--at", "2026-06-10T10:00")


def test_pay_part_then_the_rest(xuzhou):
    late_return(xuzhou)
    listed = xuzhou.json("fees", "list", "P1")
    assert listed["owed"] == "4.00" and [(f["type"], f["outstanding"]) for f in listed["fees"]] == [("overdue", "4.00")]
    part = xuzhou.json("fees", "pay", "P1", "1.50", "--currency", "cny", "--payment-type", "wechat")
    assert (part["data"]["paid"], part["data"]["balance"]) == ("1.50", "2.50")
    fee_id = listed["fees"][0]["fee_id"]
    xuzhou("fees", "pay", "P1", "2.50", "--fee-id", str(fee_id))
    assert "nothing owed" in xuzhou("fees", "list", "P1").stdout
    xuzhou.fails("fees", "pay", "P1", "1.00", code=1, says="nothing_owed")


def test_bad_amounts_and_currencies_write_nothing(xuzhou, table_counts):
    late_return(xuzhou)
    before = table_counts()
    xuzhou.fails("fees", "pay", "P1", "abc", code=2, says="invalid_amount")
    xuzhou.fails("fees", "pay", "P1", "1.005", code=2, says="more than 2 decimal places")
    xuzhou.fails("fees", "pay", "P1", "--", "-1", code=2, says="negative")
    xuzhou.fails("fees", "pay", "P1", "1.00", "--currency", "USD", code=2, says="wrong_currency")
    xuzhou.fails("fees", "pay", "P1", "9.00", code=1, says="overpayment")
    xuzhou.fails("fees", "pay", "P1", "1.00", "--payment-type", "barter", code=2, says="unknown payment type")
    xuzhou.fails("fees", "pay", "NOBODY", "1.00", code=3, says="unknown_patron")
    xuzhou.fails("fees", "pay", "P1", "1.00", "--fee-id", "999", code=3, says="unknown_fee")
    assert table_counts() == before


def test_waiver_needs_the_policy_approvals(xuzhou, table_counts):
    late_return(xuzhou)
    fee_id = str(xuzhou.json("fees", "list", "P1")["fees"][0]["fee_id"])
    before = table_counts()
    xuzhou.fails("fees", "waive", "P1", fee_id, "--approver", "Dr Wang", "--reason", "illness", "--approval", "director",
                 "--yes", code=1, says="department_certificate")
    assert table_counts() == before
    out = xuzhou.json("fees", "waive", "P1", fee_id, "--approver", "Dr Wang", "--reason", "illness", "--amount", "1.00",
                      "--approval", "department_certificate", "--approval", "director", "--yes")
    assert out["data"]["waived"] == "1.00"
    assert xuzhou.json("fees", "list", "P1")["owed"] == "3.00"


def test_refund_what_the_library_owes(xuzhou):
    patron_with_card(xuzhou, "P1")
    title_with_item(xuzhou, "X1")
    xuzhou("items", "update", "X1", "--set", "pub_year=2000")
    xuzhou("desk", "checkout", "P1", "X1")
    xuzhou("desk", "lost", "X1", "--yes")
    xuzhou.fails("fees", "refund", "P1", "5.00", "--reason", "x", "--yes", code=1, says="no_refund")
    xuzhou("fees", "pay", "P1", "75.00")
    xuzhou("desk", "found", "X1")  # paid within 30 days: 75.00 credited, 5.00 processing fee charged
    listed = xuzhou.json("fees", "list", "P1")
    assert listed["owed"] == "-70.00"
    assert "the library owes the patron 70.00 CNY" in xuzhou("fees", "list", "P1").stdout
    xuzhou.fails("fees", "refund", "P1", "80.00", "--reason", "found", "--yes", code=1, says="overpayment")
    xuzhou("fees", "refund", "P1", "70.00", "--reason", "lost book found", "--yes")
    assert xuzhou.json("fees", "list", "P1")["owed"] == "0.00"


def test_deposits_take_deduct_refund(xuzhou):
    late_return(xuzhou)
    assert xuzhou.json("deposits", "take", "P1", "100.00", "--currency", "CNY")["data"]["deposit"] == "100.00"
    xuzhou.fails("deposits", "deduct", "P1", "150.00", "--reason", "x", "--yes", code=1, says="insufficient_deposit")
    deducted = xuzhou.json("deposits", "deduct", "P1", "3.00", "--reason", "overdue fine", "--yes")
    assert deducted["data"]["deducted"] == "3.00" and xuzhou.json("fees", "list", "P1")["owed"] == "1.00"
    refunded = xuzhou.json("deposits", "refund", "P1", "--yes")
    assert (refunded["data"]["refunded"], refunded["data"]["applied_to_fees"]) == ("96.00", "1.00")
    xuzhou.fails("deposits", "refund", "P1", "--yes", code=1, says="no_refund")


def test_deposit_amounts_follow_the_currency(daknong, table_counts):
    daknong("patrons", "register", "R1", "Nguyen An", "--type", "reader")
    before = table_counts()
    daknong.fails("deposits", "take", "R1", "50000.5", code=2, says="more than 0 decimal places")
    daknong.fails("deposits", "take", "R1", "50000", "--currency", "CNY", code=2, says="amounts here are in VND")
    assert table_counts() == before
    assert daknong.json("deposits", "take", "R1", "50000")["data"]["deposit"] == "50000"


def test_packages_list_and_buy(cli):
    cli("init", "--policy", str(EXAMPLES / "hcmc.yaml"))
    packages = cli.json("packages", "list")
    assert [(p["code"], p["price"], p["max_items"]) for p in packages][:2] == [("package-200k", "200000", 2), ("package-300k", "300000", 3)]
    cli("patrons", "register", "H1", "Le Van", "--type", "reader")
    out = cli.json("packages", "buy", "H1", "package-300k", "--payment-type", "card")
    assert out["fees"][0]["amount"] == "300000" and out["data"]["valid_until"]
    assert cli.json("patrons", "show", "H1")["package"] == "package-300k"
    cli.fails("packages", "buy", "H1", "package-1m", code=2, says="not a package here")


def test_a_library_without_packages_says_so(xuzhou):
    assert xuzhou.json("packages", "list") == []
    assert "sells no packages" in xuzhou("packages", "list").stdout
