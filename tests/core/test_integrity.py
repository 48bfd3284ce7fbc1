"""Properties every library relies on: clear refusals, atomic calls, idempotent retries,
loans that keep their terms across policy changes, and no double lending under concurrency."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from ils_bridge.reasons import Reason
from ils_bridge.services import holds as hold_service
from ils_bridge.storage import schema as s
from tests.conftest import example_policy
from tests.core.helpers import due_date, move_to, patron_with_card, title_with_copies

TZ = "Asia/Shanghai"


@pytest.fixture
def lib(make_library):
    return make_library("xuzhou")


def count(app, table, *where):
    return app.db.read(lambda c: c.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def test_unknown_patron_and_item_are_refusals_with_their_own_codes(lib):
    patron_with_card(lib, "U1", "undergraduate")
    book = title_with_copies(lib, "B", "zh_book", classification="I24")[0]
    assert lib.checkout("NOBODY", book).reason == Reason.UNKNOWN_PATRON
    assert lib.checkout("U1", "NO-SUCH-BARCODE").reason == Reason.UNKNOWN_ITEM
    assert lib.checkin("NO-SUCH-BARCODE").reason == Reason.UNKNOWN_ITEM
    assert lib.checkin(book).reason == Reason.ITEM_NOT_CHECKED_OUT
    assert lib.checkout("", book).reason == Reason.UNKNOWN_PATRON


@pytest.mark.parametrize("amount, currency, reason", [
    ("1.00", "VND", Reason.WRONG_CURRENCY), ("-1.00", "CNY", Reason.INVALID_AMOUNT),
    ("0.001", "CNY", Reason.INVALID_AMOUNT), ("abc", None, Reason.INVALID_AMOUNT), (1.5, None, Reason.INVALID_AMOUNT),
    ("0", None, Reason.INVALID_AMOUNT), ("0.50", None, Reason.OVERPAYMENT),
])
def test_bad_payments_are_refused_and_write_nothing(app, lib, clock, amount, currency, reason):
    patron_with_card(lib, "U1", "undergraduate")
    book = title_with_copies(lib, "B", "zh_book", classification="I24")[0]
    lib.checkout("U1", book)
    move_to(clock, dt.date(2026, 4, 3), TZ)
    lib.checkin(book)  # 0.20 owed
    before = count(app, s.ledger_entries)
    refused = lib.pay("U1", amount, currency)
    assert (refused.ok, refused.reason) == (False, reason)
    assert count(app, s.ledger_entries) == before


def test_paying_nothing_owed(lib):
    patron_with_card(lib, "U1", "undergraduate")
    assert lib.pay("U1", "1.00").reason == Reason.NOTHING_OWED


def test_naive_time_is_refused(lib):
    assert lib.checkin("X", at=dt.datetime(2026, 1, 1)).reason == Reason.INVALID_REQUEST


def test_an_exception_halfway_leaves_the_database_as_it_was(app, lib, clock, monkeypatch):
    patron_with_card(lib, "U1", "undergraduate")
    book = title_with_copies(lib, "B", "zh_book", classification="I24")[0]
    lib.checkout("U1", book)
    move_to(clock, dt.date(2026, 4, 11), TZ)

    def broken_trap(ctx, item, **_):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(hold_service, "trap", broken_trap)
    with pytest.raises(RuntimeError):
        lib.checkin(book)  # the fine was charged and the loan closed before trapping failed
    assert count(app, s.ledger_entries) == 0
    assert count(app, s.loans, s.loans.c.status == "active") == 1
    assert lib.item_info(book)["status"] == "checked_out"


def test_an_item_flag_must_be_true_or_false(app, lib):
    title = lib.add_title("Flags").data["title_id"]
    for bad in (None, "yes", 1):
        refused = lib.add_item("F1", title, "zh_book", closed_stack=bad)
        assert refused.reason == Reason.INVALID_REQUEST and "closed_stack" in refused.message, refused
    assert count(app, s.items) == 0
    assert lib.add_item("F1", title, "zh_book", closed_stack=True, important_work=False).ok
    refused = lib.update_item("F1", important_work=None)
    assert refused.reason == Reason.INVALID_REQUEST and "important_work" in refused.message
    assert lib.item_info("F1")["status"] == "available"


def test_a_retried_request_is_applied_once(app, lib):
    patron_with_card(lib, "U1", "undergraduate")
    book = title_with_copies(lib, "B", "zh_book", classification="I24")[0]
    first = lib.checkout("U1", book, terminal="kiosk-1", request_key="txn-42")
    again = lib.checkout("U1", book, terminal="kiosk-1", request_key="txn-42")
    assert first.ok and again == first
    assert count(app, s.loans) == 1
    assert lib.checkout("U1", book, terminal="kiosk-2", request_key="txn-42").reason == Reason.ITEM_CHECKED_OUT


def test_a_resent_request_that_would_now_do_something_else_does_nothing(app, lib):
    """The key is checked when it is written: the resend's own work (here a renewal) is rolled back."""
    patron_with_card(lib, "U1", "undergraduate")
    book = title_with_copies(lib, "B", "zh_book", classification="I24")[0]
    first = lib.checkout("U1", book, terminal="kiosk-1", request_key="txn-9")
    again = lib.checkout("U1", book, renew_if_own=True, terminal="kiosk-1", request_key="txn-9")
    assert first.ok and again == first and again.data["renewal"] is False
    loans = app.db.read(lambda c: c.execute(select(s.loans.c.renewals, s.loans.c.due_at)).all())
    assert [(r.renewals, r.due_at) for r in loans] == [(0, first.due)]
    assert count(app, s.transactions, s.transactions.c.op == "checkout") == 1


def test_renew_all_logs_each_renewal_as_a_renew_line(app, lib, clock):
    """Reports and `policy simulate --recent` read renewals from the log, whichever way they were asked for."""
    patron_with_card(lib, "U1", "undergraduate")
    patron_with_card(lib, "U2", "undergraduate")
    renewable, held = title_with_copies(lib, "R", "zh_book", copies=2, classification="R44")
    lent = lib.checkout("U1", renewable)
    assert lent.ok and lib.checkout("U1", held).ok
    assert lib.place_hold("U2", item=held).ok
    move_to(clock, dt.date(2026, 3, 20), TZ)

    result = lib.renew_all("U1")
    assert [r["item"] for r in result.data["renewed"]] == [renewable]
    lines = app.db.read(lambda c: c.execute(
        select(s.transactions.c.op, s.items.c.barcode, s.transactions.c.ok, s.transactions.c.reason, s.transactions.c.rule_id)
        .outerjoin(s.items, s.items.c.id == s.transactions.c.item_id)
        .where(s.transactions.c.op.in_(("renew", "renew_all"))).order_by(s.transactions.c.id)).all())
    assert [tuple(line) for line in lines] == [
        ("renew_all", None, True, None, None),
        ("renew", renewable, True, None, lent.rule),
        ("renew", held, False, "item_on_hold", lent.rule),  # the rule that refused it
    ]


def test_a_refused_request_is_replayed_refused(app, lib):
    patron_with_card(lib, "U1", "undergraduate")
    book = title_with_copies(lib, "B", "zh_book", classification="I24")[0]
    assert lib.checkout("U2", book, request_key="k").reason == Reason.UNKNOWN_PATRON
    patron_with_card(lib, "U2", "undergraduate")
    assert lib.checkout("U2", book, request_key="k").reason == Reason.UNKNOWN_PATRON
    assert count(app, s.transactions, s.transactions.c.op == "checkout") == 1


def test_running_loans_keep_their_terms_when_the_policy_changes(lib, clock):
    patron_with_card(lib, "M1", "master")
    books = title_with_copies(lib, "NS", "zh_book", copies=2, classification="R44")
    old_loan = lib.checkout("M1", books[0])
    assert (old_loan.rule, old_loan.policy_version) == ("loan:natural-science", 1)
    stricter = example_policy("xuzhou").replace(
        "{id: natural-science, when: {class: ns}, period_days: 60}",
        "{id: natural-science, when: {class: ns}, period_days: 45, renewals: 0}")
    assert lib.apply_policy(stricter, author="test", message="shorter NS loans") == 2
    new_loan = lib.checkout("M1", books[1])
    assert (due_date(new_loan, TZ) - dt.date(2026, 3, 2)).days == 45 and new_loan.policy_version == 2
    move_to(clock, dt.date(2026, 3, 10), TZ)
    renewed = lib.renew("M1", books[0])  # version 1 terms: one renewal, 60 days
    assert renewed.ok and renewed.policy_version == 1 and (due_date(renewed, TZ) - dt.date(2026, 3, 10)).days == 60
    assert lib.renew("M1", books[1]).reason == Reason.RENEWAL_LIMIT
    assert [v["version"] for v in lib.policy_history()] == [1, 2]
    assert lib.rollback_policy(1, author="test") == 3
    assert lib.current_policy().loans.first({"class": "ns"}).period_days == 60


def test_a_policy_for_another_library_is_not_applied(lib):
    with pytest.raises(ValueError):
        lib.apply_policy(example_policy("hcmc"), author="test", message="wrong file")


def test_two_terminals_lending_the_same_item_at_once_lend_it_once(app, lib):
    patrons = [patron_with_card(lib, f"U{n}", "undergraduate") for n in range(8)]
    book = title_with_copies(lib, "B", "zh_book", classification="I24")[0]
    results = _race([lambda p=p: lib.checkout(p, book) for p in patrons])
    assert sum(r.ok for r in results) == 1
    assert {r.reason for r in results if not r.ok} == {Reason.ITEM_CHECKED_OUT}
    assert count(app, s.loans, s.loans.c.status == "active") == 1


def test_one_patron_at_the_limit_on_many_terminals_never_exceeds_it(app, lib):
    patron_with_card(lib, "A1", "adult_education")  # limit 3
    books = title_with_copies(lib, "B", "zh_book", copies=10, classification="I24")
    results = _race([lambda b=b: lib.checkout("A1", b) for b in books])
    assert sum(r.ok for r in results) == 3
    assert count(app, s.loans, s.loans.c.status == "active") == 3


def _race(calls):
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(n):
        barrier.wait()
        results[n] = calls[n]()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_ledger_balance_is_the_sum_of_its_entries(app, lib, clock):
    patron_with_card(lib, "U1", "undergraduate")
    books = title_with_copies(lib, "B", "zh_book", copies=3, classification="I24", price="20.00", pub_year=2000)
    for b in books:
        lib.checkout("U1", b)
    move_to(clock, dt.date(2026, 4, 11), TZ)
    lib.checkin(books[0])
    lib.report_lost(books[1])
    fee = lib.patron_account("U1")["fees"][0]["fee_id"]
    lib.pay("U1", "10.00")
    lib.waive("U1", fee_id=fee, approver="Director", reason="x", approvals=["department_certificate", "director"])
    account = lib.patron_account("U1")
    total = app.db.read(lambda c: c.execute(select(func.sum(s.ledger_entries.c.amount_minor)).where(
        s.ledger_entries.c.account == "fees")).scalar_one())
    assert account["fees_owed"] == Decimal(total) / 100
    assert account["fees_owed"] == sum(f["outstanding"] for f in account["fees"])


def test_offline_checkout_is_recorded_even_where_the_policy_refuses(app, lib, clock):
    patron_with_card(lib, "A1", "adult_education")  # limit 3
    patron_with_card(lib, "A2", "adult_education")
    books = title_with_copies(lib, "B", "zh_book", copies=5, classification="I24")
    reference = title_with_copies(lib, "R", "reference")[0]
    for barcode in books[:3]:
        lib.checkout("A1", barcode)
    assert lib.checkout("A1", books[3]).reason == Reason.LIMIT_REACHED
    offline = lib.checkout("A1", books[3], no_block=True, at=clock.now() - dt.timedelta(hours=2))
    assert offline.ok and offline.data["overridden"] == {"reason": "limit_reached", "rule": "limit:total-adult-education"}
    assert due_date(offline, TZ) == dt.date(2026, 3, 2) + dt.timedelta(days=30)
    kept = lib.checkout("A1", reference, no_block=True)
    assert kept.ok and due_date(kept, TZ) == dt.date(2026, 3, 2) and kept.rule == "loan:reading-only"
    taken_from_other = lib.checkout("A2", books[0], no_block=True)  # A1 never checked it in
    assert taken_from_other.ok and lib.item_info(books[0])["borrower"] == "A2"
    assert count(app, s.loans, s.loans.c.status == "active") == 5


def test_changing_a_hold_keeps_its_place_in_the_queue(make_library, clock):
    danang = make_library("danang")
    for number in ("U1", "U2", "U3"):
        patron_with_card(danang, number, "undergraduate", group="own_university")
    item = title_with_copies(danang, "M", "vn_monograph", copies=2, language="vie")
    danang.checkout("U1", item[0])
    danang.checkout("U1", item[1])
    first = danang.place_hold("U2", item=item[0]).data["hold_id"]
    danang.place_hold("U3", item=item[0])
    changed = danang.change_hold("U2", hold_id=first, lapse_on=dt.date(2026, 6, 1), pickup_branch="east")
    assert changed.ok and danang.change_hold("U2", hold_id=first).reason == Reason.INVALID_REQUEST
    trapped = danang.checkin(item[0]).data["hold"]
    assert (trapped["patron"], trapped["pickup_branch"]) == ("U2", "east")


def test_concurrent_returns_of_one_item_close_its_loan_once(app, lib, clock):
    patron_with_card(lib, "U1", "undergraduate")
    book = title_with_copies(lib, "B", "zh_book", classification="I24")[0]
    lib.checkout("U1", book)
    move_to(clock, dt.date(2026, 4, 11), TZ)  # overdue: each close would charge a fine
    results = _race([lambda: lib.checkin(book) for _ in range(6)])
    assert sum(r.ok for r in results) == 1
    assert {r.reason for r in results if not r.ok} == {Reason.ITEM_NOT_CHECKED_OUT}
    assert count(app, s.ledger_entries) == 1


def test_the_same_request_from_two_processes_at_once_is_applied_once(app, lib):
    patron_with_card(lib, "U1", "undergraduate")
    books = title_with_copies(lib, "B", "zh_book", copies=2, classification="I24")
    results = _race([lambda: lib.checkout("U1", books[0], terminal="kiosk-1", request_key="txn-7") for _ in range(6)])
    assert all(r.ok for r in results) and len({r.data["loan_id"] for r in results}) == 1
    assert count(app, s.loans) == 1
