"""Xuzhou Medical University Library: every published figure, from policies/examples/xuzhou.yaml alone."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ils_bridge.reasons import Reason
from tests.core.helpers import due_date, move_to, patron_with_card, title_with_copies

TZ = "Asia/Shanghai"


@pytest.fixture
def lib(make_library):
    return make_library("xuzhou")


def test_phd_51st_checkout_is_refused_at_the_limit(lib):
    patron_with_card(lib, "D1", "phd")
    books = title_with_copies(lib, "B", "zh_book", copies=51, classification="R44", price="30.00")
    for barcode in books[:50]:
        assert lib.checkout("D1", barcode).ok
    refused = lib.checkout("D1", books[50])
    assert (refused.ok, refused.reason, refused.rule) == (False, Reason.LIMIT_REACHED, "limit:total-phd")


def test_undergraduate_limit_is_30(lib):
    patron_with_card(lib, "U1", "undergraduate")
    books = title_with_copies(lib, "B", "zh_book", copies=31, classification="I24")
    assert all(lib.checkout("U1", b).ok for b in books[:30])
    assert lib.checkout("U1", books[30]).reason == Reason.LIMIT_REACHED


def test_external_reader_two_per_science_and_four_in_all(lib):
    patron_with_card(lib, "E1", "external")
    ss = title_with_copies(lib, "SS", "zh_book", copies=3, classification="D61")
    ns = title_with_copies(lib, "NS", "zh_book", copies=3, classification="R44")
    assert lib.checkout("E1", ss[0]).ok and lib.checkout("E1", ss[1]).ok
    third_ss = lib.checkout("E1", ss[2])
    assert (third_ss.reason, third_ss.rule) == (Reason.LIMIT_REACHED, "limit:external-social-science")
    assert lib.checkout("E1", ns[0]).ok and lib.checkout("E1", ns[1]).ok
    assert lib.checkout("E1", ns[2]).rule == "limit:total-external"


def test_loan_periods_by_science_and_reader(lib, clock):
    patron_with_card(lib, "M1", "master")
    patron_with_card(lib, "E1", "external")
    ns = title_with_copies(lib, "NS", "zh_book", classification="R44")
    ss = title_with_copies(lib, "SS", "foreign_book", classification="F27")
    today = dt.date(2026, 3, 2)
    ns_loan = lib.checkout("M1", ns[0])
    assert due_date(ns_loan, TZ) == today + dt.timedelta(days=60) and ns_loan.rule == "loan:natural-science"
    assert due_date(lib.checkout("M1", ss[0]), TZ) == today + dt.timedelta(days=30)
    external = lib.checkout("E1", ns[1])
    assert due_date(external, TZ) == today + dt.timedelta(days=30) and external.rule == "loan:external-natural-science"


def test_renewal_counts_from_the_renewal_day_and_only_once(lib, clock):
    patron_with_card(lib, "M1", "master")
    ns = title_with_copies(lib, "NS", "zh_book", classification="R44")
    lib.checkout("M1", ns[0])
    move_to(clock, dt.date(2026, 3, 20), TZ)
    renewed = lib.renew("M1", ns[0])
    assert renewed.ok and due_date(renewed, TZ) == dt.date(2026, 3, 20) + dt.timedelta(days=60)
    second = lib.renew("M1", ns[0])
    assert (second.ok, second.reason) == (False, Reason.RENEWAL_LIMIT)


def test_renewal_refused_when_overdue_or_on_hold(lib, clock):
    patron_with_card(lib, "M1", "master")
    patron_with_card(lib, "M2", "master")
    ss = title_with_copies(lib, "SS", "zh_book", copies=2, classification="D61")
    lib.checkout("M1", ss[0])
    lib.checkout("M1", ss[1])
    assert lib.place_hold("M2", item=ss[1]).ok
    assert lib.renew("M1", ss[1]).reason == Reason.ITEM_ON_HOLD
    move_to(clock, dt.date(2026, 4, 5), TZ)
    assert lib.renew("M1", ss[0]).reason == Reason.OVERDUE_ITEM


@pytest.mark.parametrize("material", ["reference", "special_collection", "tape", "disc", "video",
                                      "zh_current_periodical", "foreign_current_periodical", "newspaper"])
def test_reading_only_material_never_circulates(lib, material):
    patron_with_card(lib, "D1", "phd")
    item = title_with_copies(lib, "R", material)[0]
    refused = lib.checkout("D1", item)
    assert (refused.reason, refused.rule) == (Reason.NOT_LOANABLE, "loan:reading-only")


def test_book_due_in_summer_vacation_returned_six_days_into_term_has_no_fine(lib, clock):
    patron_with_card(lib, "U1", "undergraduate")
    ss = title_with_copies(lib, "SS", "zh_book", classification="D61")
    move_to(clock, dt.date(2026, 6, 20), TZ)
    loan = lib.checkout("U1", ss[0])
    assert due_date(loan, TZ) == dt.date(2026, 7, 20)  # inside the summer vacation (11 Jul - 30 Aug)
    move_to(clock, dt.date(2026, 9, 5), TZ)  # term starts 31 Aug: the 6th day of term
    returned = lib.checkin(ss[0])
    assert returned.ok and returned.fees == () and returned.rule == "fine:grace-vacation"


def test_book_returned_after_the_grace_week_is_fined_from_term_start(lib, clock):
    patron_with_card(lib, "U1", "undergraduate")
    ss = title_with_copies(lib, "SS", "zh_book", classification="D61")
    move_to(clock, dt.date(2026, 6, 20), TZ)
    lib.checkout("U1", ss[0])
    move_to(clock, dt.date(2026, 9, 8), TZ)  # 9 days after the vacation's last day
    returned = lib.checkin(ss[0])
    assert [(f.type, f.amount) for f in returned.fees] == [("overdue", Decimal("0.90"))]


def test_book_already_overdue_before_vacation_is_fined_for_every_day(lib, clock):
    patron_with_card(lib, "U1", "undergraduate")
    ss = title_with_copies(lib, "SS", "zh_book", classification="D61")
    move_to(clock, dt.date(2026, 6, 8), TZ)
    loan = lib.checkout("U1", ss[0])
    assert due_date(loan, TZ) == dt.date(2026, 7, 8)  # 3 days before the vacation starts on 11 Jul
    move_to(clock, dt.date(2026, 9, 5), TZ)
    returned = lib.checkin(ss[0])
    days = (dt.date(2026, 9, 5) - dt.date(2026, 7, 8)).days
    assert [(f.type, f.amount) for f in returned.fees] == [("overdue", Decimal("0.10") * days)]
    assert returned.rule == "fine:overdue"


def test_public_holiday_grace_is_two_days(lib, clock):
    patron_with_card(lib, "U1", "undergraduate")
    ss = title_with_copies(lib, "SS", "zh_book", copies=2, classification="D61")
    move_to(clock, dt.date(2026, 9, 3), TZ)
    assert due_date(lib.checkout("U1", ss[0]), TZ) == dt.date(2026, 10, 3)  # National Day, 1-7 Oct
    lib.checkout("U1", ss[1])
    move_to(clock, dt.date(2026, 10, 9), TZ)
    assert lib.checkin(ss[0]).fees == ()
    move_to(clock, dt.date(2026, 10, 10), TZ)
    assert [f.amount for f in lib.checkin(ss[1]).fees] == [Decimal("0.30")]


@pytest.mark.parametrize("year, first_reader, multiple", [
    (1988, True, Decimal("5.5")), (1988, False, Decimal("5")), (1980, False, Decimal("10")),
    (2001, False, Decimal("2")), (2001, True, Decimal("2.5")),
])
def test_lost_chinese_book_costs_a_multiple_of_its_price(lib, clock, year, first_reader, multiple):
    patron_with_card(lib, "U1", "undergraduate")
    patron_with_card(lib, "U2", "undergraduate")
    book = title_with_copies(lib, "B", "zh_book", classification="I24", price="20.00", pub_year=year)[0]
    if not first_reader:
        lib.checkout("U2", book)
        lib.checkin(book)
    lib.checkout("U1", book)
    lost = lib.report_lost(book)
    assert lost.ok, lost
    assert [(f.type, f.amount) for f in lost.fees] == [("lost", Decimal("20.00") * multiple)]


def test_lost_overdue_item_pays_the_overdue_fine_too(lib, clock):
    patron_with_card(lib, "U1", "undergraduate")
    book = title_with_copies(lib, "B", "foreign_book", classification="F27", price="50.00", pub_year=2010)[0]
    lib.checkout("U1", book)
    move_to(clock, dt.date(2026, 4, 11), TZ)  # due 1 Apr: 10 days overdue
    lost = lib.report_lost(book)
    # first reader of a 2010 book: 2x + 0.5x surcharge
    assert [(f.type, f.amount) for f in lost.fees] == [("lost", Decimal("125.00")), ("overdue", Decimal("1.00"))]


def test_identical_copy_replacement_costs_the_processing_fee_and_is_never_refunded(lib, clock):
    patron_with_card(lib, "U1", "undergraduate")
    book = title_with_copies(lib, "B", "zh_book", classification="I24", price="20.00", pub_year=2010)[0]
    lib.checkout("U1", book)
    lost = lib.report_lost(book, replaced_by_copy=True)
    assert [(f.type, f.amount) for f in lost.fees] == [("processing", Decimal("5"))]


def test_found_within_a_month_of_paying_is_refunded_less_5(lib, clock):
    patron_with_card(lib, "U1", "undergraduate")
    book = title_with_copies(lib, "B", "zh_book", classification="I24", price="20.00", pub_year=2010)[0]
    lib.checkout("U1", book)
    lost = lib.report_lost(book)
    assert lost.fees[0].amount == Decimal("50.00")  # first reader: 2.5 x 20.00
    assert lib.pay("U1", "50.00", "CNY").ok
    move_to(clock, dt.date(2026, 3, 25), TZ)
    found = lib.found(book)
    assert found.ok and found.data["refund_due"] == Decimal("45.00")
    assert lib.patron_account("U1")["fees_owed"] == Decimal("-45.00")
    assert lib.refund("U1", "45.00", reason="lost book found").ok
    assert lib.patron_account("U1")["fees_owed"] == Decimal("0.00")


def test_found_more_than_a_month_after_paying_is_not_refunded(lib, clock):
    patron_with_card(lib, "U1", "undergraduate")
    book = title_with_copies(lib, "B", "zh_book", classification="I24", price="20.00", pub_year=2010)[0]
    lib.checkout("U1", book)
    lib.report_lost(book)
    assert lib.pay("U1", "50.00").ok
    move_to(clock, dt.date(2026, 4, 15), TZ)
    found = lib.found(book)
    assert found.ok and found.data["refund_due"] == 0 and found.rule == "lost:refund_window"
    assert lib.patron_account("U1")["fees_owed"] == Decimal("0.00")


@pytest.mark.parametrize("kind, options, material, price, expected", [
    ("marks", {}, "zh_book", "30.00", "2.00"),
    ("marks", {}, "zh_book", "1.50", "1.50"),                       # capped at the item's price
    ("marks", {"cleanable": True}, "zh_book", "30.00", "1.00"),     # halved if the patron can clean it
    ("torn_leaf", {"units": 3, "binding": "paperback"}, "zh_book", "30.00", "16.00"),
    ("torn_leaf", {"units": 2, "binding": "hardcover", "extra": "3.50"}, "zh_book", "30.00", "27.50"),
    ("marks", {}, "atlas", "1.50", "10.00"),                        # 5x, no cap
    ("rfid_tag", {"binding": "paperback"}, "zh_book", "30.00", "20.00"),
    ("barcode", {"units": 2}, "zh_book", "30.00", "10.00"),
])
def test_damage_schedule(lib, kind, options, material, price, expected):
    patron_with_card(lib, "U1", "undergraduate")
    item = title_with_copies(lib, "B", material, classification="I24", price=price)[0]
    charged = lib.charge_damage(item, kind, patron="U1", **options)
    assert charged.ok, charged
    assert [f.amount for f in charged.fees] == [Decimal(expected)]


def test_theft_is_ten_times_the_price_and_twenty_for_single_copies(lib):
    patron_with_card(lib, "U1", "undergraduate")
    two = title_with_copies(lib, "T", "zh_book", copies=2, price="30.00")
    one = title_with_copies(lib, "S", "zh_book", copies=1, price="10.00")
    assert [f.amount for f in lib.charge_theft("U1", [two[0]]).fees] == [Decimal("300.00")]
    assert [f.amount for f in lib.charge_theft("U1", [two[1], one[0]]).fees] == [Decimal("500.00")]


def test_holds_only_on_checked_out_items_wait_a_week_paused_by_vacation(lib, clock):
    patron_with_card(lib, "U1", "undergraduate")
    patron_with_card(lib, "U2", "undergraduate")
    book = title_with_copies(lib, "B", "zh_book", copies=1, classification="I24")[0]
    assert lib.place_hold("U2", item=book).reason == Reason.HOLD_NOT_ALLOWED
    move_to(clock, dt.date(2026, 7, 1), TZ)
    lib.checkout("U1", book)
    held = lib.place_hold("U2", item=book)
    assert held.ok
    move_to(clock, dt.date(2026, 7, 8), TZ)  # 3 days before the summer vacation
    returned = lib.checkin(book)
    assert returned.data["hold"]["patron"] == "U2"
    # 9 and 10 Jul count, the vacation (11 Jul - 30 Aug) does not, then 31 Aug - 4 Sep
    assert returned.data["hold"]["shelf_expires_on"] == "2026-09-04"
    assert lib.checkout("U1", book).reason == Reason.ITEM_ON_HOLD
    move_to(clock, dt.date(2026, 9, 4), TZ)
    lib.run_jobs()
    assert lib.item_info(book)["status"] == "on_hold_shelf"
    move_to(clock, dt.date(2026, 9, 5), TZ)
    lib.run_jobs()
    assert lib.item_info(book)["status"] == "available"


def test_placing_a_hold_recalls_the_copy_out(lib, app):
    patron_with_card(lib, "U1", "undergraduate")
    patron_with_card(lib, "U2", "undergraduate")
    book = title_with_copies(lib, "B", "zh_book", copies=1, classification="I24")[0]
    lib.checkout("U1", book)
    lib.place_hold("U2", item=book)
    from sqlalchemy import select
    from ils_bridge.storage import schema as s
    kinds = app.db.read(lambda c: [(r.kind, r.patron_id) for r in c.execute(select(s.notices_outbox))])
    account = lib.patron_account("U1")
    assert {k for k, _ in kinds} == {"recall"} and kinds[0][1] == account["patron_id"]
    assert account["loans"][0]["recalled"] is True


def test_lost_card_is_blocked_at_once_and_replaced_with_the_same_number(lib):
    patron_with_card(lib, "U1", "undergraduate")
    book = title_with_copies(lib, "B", "zh_book", classification="I24")[0]
    assert lib.report_card_lost("C-U1").ok
    assert lib.checkout("C-U1", book).reason == Reason.CARD_LOST
    replaced = lib.replace_card("C-U1")
    assert replaced.ok and replaced.data["number"] == "C-U1"
    assert lib.checkout("C-U1", book).ok
    assert lib.replace_card("C-U1", new_number="OTHER").reason == Reason.NOT_PERMITTED


def test_card_misuse_ban_between_one_and_six_months(lib, clock):
    patron_with_card(lib, "U1", "undergraduate")
    book = title_with_copies(lib, "B", "zh_book", classification="I24")[0]
    assert lib.ban_patron("U1", months=7, reason="used another's card").reason == Reason.OUT_OF_RANGE
    banned = lib.ban_patron("U1", months=2, reason="used another's card", confiscate_card=True)
    assert banned.ok and banned.data["banned_until"] == dt.date(2026, 5, 2)
    assert lib.checkout("U1", book).reason == Reason.PATRON_BANNED


def test_waiver_needs_the_department_certificate_and_the_directors_signature(lib, clock):
    patron_with_card(lib, "U1", "undergraduate")
    book = title_with_copies(lib, "B", "zh_book", classification="I24")[0]
    lib.checkout("U1", book)
    move_to(clock, dt.date(2026, 4, 11), TZ)
    fee_id = lib.checkin(book).fees[0].entry_id
    refused = lib.waive("U1", fee_id=fee_id, approver="Director Wang", reason="illness", approvals=["director"])
    assert refused.reason == Reason.APPROVAL_REQUIRED
    waived = lib.waive("U1", fee_id=fee_id, approver="Director Wang", reason="illness",
                       approvals=["department_certificate", "director"])
    assert waived.ok and lib.patron_account("U1")["fees_owed"] == 0


def test_clearance_needs_everything_returned_and_settled(lib, clock):
    patron_with_card(lib, "U1", "undergraduate")
    book = title_with_copies(lib, "B", "zh_book", classification="I24")[0]
    lib.checkout("U1", book)
    assert lib.clearance("U1").reason == Reason.CLEARANCE_FAILED
    move_to(clock, dt.date(2026, 4, 3), TZ)
    lib.checkin(book)
    assert lib.clearance("U1").data["owed"] == Decimal("0.20")
    lib.pay("U1", "0.20")
    assert lib.clearance("U1", mark_left=True).ok
    assert lib.checkout("U1", book).reason == Reason.PATRON_LEFT
