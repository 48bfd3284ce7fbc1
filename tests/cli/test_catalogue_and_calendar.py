"""`ils-bridge items`, `ill`, `calendar` and `jobs`."""

from __future__ import annotations

from tests.cli.conftest import patron_with_card, title_with_item


def test_items_add_update_show(xuzhou, table_counts):
    title = xuzhou.json("items", "add-title", "Gray's Anatomy", "--author", "Gray, Henry", "--pub-year", "2020")
    title_id = str(title["data"]["title_id"])
    xuzhou("items", "add", "X1", "--title-id", title_id, "--material", "foreign_book", "--classification", "R32",
           "--price", "120.50", "--call-number", "R32/G7", "--set", "copy_number=2", "--set", "closed_stack=yes")
    info = xuzhou.json("items", "show", "X1")
    assert (info["title"], info["price"], info["call_number"], info["material"]) == ("Gray's Anatomy", "120.50", "R32/G7", "foreign_book")
    xuzhou("items", "update", "X1", "--location", "stack 3", "--status", "missing")
    info = xuzhou.json("items", "show", "X1")
    assert (info["location"], info["status"]) == ("stack 3", "missing")
    assert "Gray, Henry" in xuzhou("items", "show", "X1").stdout
    before = table_counts()
    xuzhou.fails("items", "add", "X2", "--title-id", title_id, "--material", "scroll", code=2, says="not one of this library's materials")
    xuzhou.fails("items", "add", "X2", "--title-id", "999", "--material", "zh_book", code=2, says="no title 999")
    xuzhou.fails("items", "add", "X2", "--title-id", title_id, "--material", "zh_book", "--price", "12.345", code=2, says="invalid_amount")
    xuzhou.fails("items", "add", "X2", "--title-id", title_id, "--material", "zh_book", "--set", "colour=red",
                 code=2, says="unknown item attribute(s): colour")
    xuzhou.fails("items", "add", "X2", "--title-id", title_id, "--material", "zh_book", "--set", "closed_stack=maybe",
                 code=2, says="not yes or no")
    xuzhou.fails("items", "add", "X1", "--title-id", title_id, "--material", "zh_book", code=1, says="already in use")
    xuzhou.fails("items", "update", "X1", "--status", "checked_out", code=2, says="cannot be set directly")
    xuzhou.fails("items", "update", "NOPE", "--location", "x", code=3, says="unknown_item")
    assert table_counts() == before


def test_ill_request_moves_through_its_states(xuzhou):
    patron_with_card(xuzhou, "P1")
    xuzhou("patrons", "register", "P2", "No card", "--type", "phd")
    xuzhou.fails("ill", "request", "P2", "A paper", code=1, says="no_card")
    request_id = str(xuzhou.json("ill", "request", "P1", "J Anat 2019;12:33", "--field", "anatomy")["data"]["request_id"])
    xuzhou.fails("ill", "update", request_id, "delivered", code=1, says="(next: sent, cancelled)")
    xuzhou("ill", "update", request_id, "sent", "--lender", "NLC")
    filled = xuzhou.json("ill", "update", request_id, "filled", "--cost", "30.00")
    assert filled["data"]["state"] == "filled"
    xuzhou.fails("ill", "update", "999", "sent", code=3, says="unknown_request")
    listed = xuzhou.json("ill", "list", "--state", "filled")
    assert [(r["request_id"], r["lender"], r["cost"]) for r in listed] == [(int(request_id), "NLC", "30.00")]
    assert xuzhou.json("ill", "list", "--patron", "P1", "--state", "new") == []
    assert "States and where each may go next" in xuzhou("ill", "update", "--help").stdout


def test_closures_are_added_and_listed_with_the_policy_ones(xuzhou, table_counts):
    xuzhou("calendar", "add-closure", "2026-05-01", "2026-05-03", "--kind", "holiday", "--name", "Labour Day")
    listed = xuzhou.json("calendar", "list", "--since", "2026-04-01")
    assert ("2026-05-01", "2026-05-03", "holiday", "Labour Day", "desk") in [
        (c["start"], c["end"], c["kind"], c["name"], c["source"]) for c in listed]
    assert [c["name"] for c in listed][:3] == ["Labour Day", "summer vacation", "National Day"]
    xuzhou("calendar", "add-closure", "2026-12-24", "--kind", "closed")
    assert ("2026-12-24", "2026-12-24") in [(c["start"], c["end"]) for c in xuzhou.json("calendar", "list")]
    before = table_counts()
    xuzhou.fails("calendar", "add-closure", "2026-05-10", "2026-05-01", "--kind", "closed", code=2, says="ends on or after it starts")
    xuzhou.fails("calendar", "add-closure", "2026-05-32", "--kind", "closed", code=2, says="is not a date")
    assert table_counts() == before


def test_daily_jobs_count_overdue_loans_once_a_day(xuzhou):
    patron_with_card(xuzhou, "P1")
    title_with_item(xuzhou, "X1")
    xuzhou("desk", "checkout", "P1", "X1", "--at", "2026-03-02T10:00")
    first = xuzhou.json("jobs", "run", "--at", "2026-06-10T02:00")
    assert (first["data"]["overdue"], first["data"]["shelf_expired"]) == (1, 0)
    assert "1 overdue" in xuzhou("jobs", "run", "--at", "2026-06-10T03:00").stdout
