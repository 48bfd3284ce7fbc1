"""Da Nang University of Science and Technology LRC: published figures from policies/examples/danang.yaml."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ils_bridge.reasons import Reason
from tests.core.helpers import due_date, move_to, patron_with_card, title_with_copies

TZ = "Asia/Ho_Chi_Minh"


@pytest.fixture
def lib(make_library, clock):
    move_to(clock, dt.date(2026, 3, 2), TZ)
    return make_library("danang")


def own(lib, number, patron_type):
    return patron_with_card(lib, number, patron_type, group="own_university")


def test_others_cannot_borrow_textbooks(lib):
    patron_with_card(lib, "O1", "other", group="other")
    lib.take_deposit("O1", "500000")
    textbook = title_with_copies(lib, "T", "textbook", language="vie")[0]
    refused = lib.checkout("O1", textbook)
    assert (refused.reason, refused.rule) == (Reason.NOT_LOANABLE_TO_PATRON, "loan:others-no-textbooks")


def test_a_single_copy_title_does_not_circulate(lib):
    own(lib, "S1", "staff")
    only = title_with_copies(lib, "M", "vn_monograph", copies=1, language="vie")[0]
    refused = lib.checkout("S1", only)
    assert (refused.reason, refused.rule) == (Reason.SINGLE_COPY_TITLE, "loan:vn-monographs-staff")


@pytest.mark.parametrize("patron_type, material, days", [
    ("staff", "textbook", 90), ("staff", "vn_monograph", 30), ("staff", "foreign_monograph", 30),
    ("postgraduate", "vn_monograph", 14), ("undergraduate", "foreign_monograph", 14), ("undergraduate", "textbook", 90),
])
def test_loan_matrix_periods(lib, patron_type, material, days):
    own(lib, "P1", patron_type)
    item = title_with_copies(lib, "I", material, language="vie")[0]
    assert due_date(lib.checkout("P1", item), TZ) == dt.date(2026, 3, 2) + dt.timedelta(days=days)


@pytest.mark.parametrize("patron_type, material, allowed", [
    ("staff", "textbook", 5), ("staff", "vn_monograph", 3), ("postgraduate", "vn_monograph", 3),
    ("undergraduate", "vn_monograph", 2), ("undergraduate", "foreign_monograph", 1), ("staff", "foreign_monograph", 1),
])
def test_loan_matrix_limits(lib, patron_type, material, allowed):
    own(lib, "P1", patron_type)
    items = title_with_copies(lib, "I", material, copies=allowed + 2, language="vie")
    assert all(lib.checkout("P1", b).ok for b in items[:allowed])
    assert lib.checkout("P1", items[allowed]).reason == Reason.LIMIT_REACHED


@pytest.mark.parametrize("material", ["reference", "thesis", "research_report", "high_demand", "audiovisual", "periodical"])
def test_in_library_only_material(lib, material):
    own(lib, "P1", "staff")
    assert lib.checkout("P1", title_with_copies(lib, "I", material)[0]).reason == Reason.NOT_LOANABLE


@pytest.mark.parametrize("group, vn, foreign", [
    ("member_staff", "150000", "300000"), ("member_student", "100000", "300000"),
    ("member_postgraduate", "200000", "400000"), ("city_student", "150000", "300000"), ("other", "200000", "500000"),
])
def test_deposit_by_group_and_language(lib, group, vn, foreign):
    patron_with_card(lib, "G1", "undergraduate", group=group)
    vn_items = title_with_copies(lib, "V", "vn_monograph", language="vie")
    foreign_items = title_with_copies(lib, "F", "foreign_monograph", language="eng")
    below = str(Decimal(vn) - 1)
    assert lib.take_deposit("G1", below, "VND").ok
    assert lib.checkout("G1", vn_items[0]).reason == Reason.DEPOSIT_REQUIRED
    assert lib.take_deposit("G1", "1").ok
    assert lib.checkout("G1", vn_items[0]).ok
    refused = lib.checkout("G1", foreign_items[0])
    assert refused.reason == Reason.DEPOSIT_REQUIRED
    assert lib.take_deposit("G1", str(Decimal(foreign) - Decimal(vn))).ok
    assert lib.checkout("G1", foreign_items[0]).ok


def test_own_university_needs_no_deposit(lib):
    own(lib, "S1", "staff")
    assert lib.checkout("S1", title_with_copies(lib, "F", "foreign_monograph", language="eng")[0]).ok


def test_overdue_fines_per_material_and_they_block_borrowing(lib, clock):
    own(lib, "U1", "undergraduate")
    textbook = title_with_copies(lib, "T", "textbook", language="vie")[0]
    monograph = title_with_copies(lib, "M", "vn_monograph", copies=3, language="vie")
    lib.checkout("U1", textbook)
    lib.checkout("U1", monograph[0])
    move_to(clock, dt.date(2026, 3, 2) + dt.timedelta(days=14 + 5), TZ)
    assert [(f.type, f.amount) for f in lib.checkin(monograph[0]).fees] == [("overdue", Decimal("10000"))]
    assert lib.checkout("U1", monograph[1]).reason == Reason.FINES_OWED
    assert lib.renew("U1", textbook).reason == Reason.FINES_OWED
    lib.pay("U1", "10000", "VND")
    assert lib.checkout("U1", monograph[1]).ok
    move_to(clock, dt.date(2026, 3, 2) + dt.timedelta(days=90 + 3), TZ)
    assert [f.amount for f in lib.checkin(textbook).fees] == [Decimal("3000")]


def test_renewal_once_from_the_renewal_day_refused_when_held(lib, clock):
    own(lib, "U1", "undergraduate")
    own(lib, "U2", "undergraduate")
    items = title_with_copies(lib, "M", "vn_monograph", copies=2, language="vie")
    lib.checkout("U1", items[0])
    lib.checkout("U1", items[1])
    move_to(clock, dt.date(2026, 3, 10), TZ)
    renewed = lib.renew("U1", items[0])
    assert due_date(renewed, TZ) == dt.date(2026, 3, 24)
    assert lib.renew("U1", items[0]).reason == Reason.RENEWAL_LIMIT
    assert lib.place_hold("U2", item=items[1]).ok
    assert lib.renew("U1", items[1]).reason == Reason.ITEM_ON_HOLD


def test_31st_overdue_day_deducts_10_percent_of_the_deposit_and_the_fine_is_still_owed(lib, clock):
    patron_with_card(lib, "G1", "undergraduate", group="member_student")
    lib.take_deposit("G1", "100000")
    item = title_with_copies(lib, "M", "vn_monograph", language="vie")[0]
    lib.checkout("G1", item)
    due = dt.date(2026, 3, 16)
    move_to(clock, due + dt.timedelta(days=30), TZ)
    assert lib.run_jobs().data["deposit_deductions"] == []
    move_to(clock, due + dt.timedelta(days=31), TZ)
    jobs = lib.run_jobs()
    assert [d["amount"] for d in jobs.data["deposit_deductions"]] == [Decimal("10000")]
    assert lib.run_jobs().data["deposit_deductions"] == []  # the same day again deducts nothing
    assert lib.patron_account("G1")["deposit"] == Decimal("90000")
    move_to(clock, due + dt.timedelta(days=33), TZ)
    assert [d["amount"] for d in lib.run_jobs().data["deposit_deductions"]] == [Decimal("20000")]
    returned = lib.checkin(item)
    assert [f.amount for f in returned.fees] == [Decimal(33 * 2000)]
    assert lib.patron_account("G1")["deposit"] == Decimal("70000")


def test_three_recall_notices_apply_the_deposit_to_the_fines(lib, clock):
    patron_with_card(lib, "G1", "undergraduate", group="member_student")
    lib.take_deposit("G1", "100000")
    items = title_with_copies(lib, "M", "vn_monograph", copies=3, language="vie")
    lib.checkout("G1", items[0])
    lib.checkout("G1", items[1])
    move_to(clock, dt.date(2026, 3, 26), TZ)
    lib.checkin(items[0])  # 10 days late: 20000 owed
    assert lib.recall(items[1]).data["deposit_applied"] is None
    assert lib.recall(items[1]).data["deposit_applied"] is None
    third = lib.recall(items[1])
    assert third.data["recall_notices"] == 3 and third.data["deposit_applied"] == Decimal("20000")
    account = lib.patron_account("G1")
    assert (account["fees_owed"], account["deposit"]) == (Decimal("0"), Decimal("80000"))


def test_holds_wait_three_days_and_lapse_on_the_patrons_date(lib, clock):
    own(lib, "U1", "undergraduate")
    own(lib, "U2", "undergraduate")
    own(lib, "U3", "undergraduate")
    items = title_with_copies(lib, "M", "vn_monograph", copies=2, language="vie")
    lib.checkout("U1", items[0])
    lib.checkout("U3", items[1])
    assert lib.place_hold("U2", item=items[0], lapse_on=dt.date(2026, 3, 5)).ok
    move_to(clock, dt.date(2026, 3, 10), TZ)
    assert lib.checkin(items[0]).data["hold"] is None  # U2's hold lapsed on 5 March
    assert lib.place_hold("U2", item=items[1]).ok
    trapped = lib.checkin(items[1]).data["hold"]
    assert trapped["patron"] == "U2" and trapped["shelf_expires_on"] == "2026-03-13"


def test_lost_item_multiple_is_staff_choice_within_range(lib):
    own(lib, "U1", "undergraduate")
    item = title_with_copies(lib, "M", "vn_monograph", language="vie", price="80000")[0]
    lib.checkout("U1", item)
    assert lib.report_lost(item, multiple=Decimal("11"), processing_fee="20000").reason == Reason.OUT_OF_RANGE
    assert lib.report_lost(item, multiple=Decimal("2")).reason == Reason.INVALID_REQUEST  # processing cost missing
    lost = lib.report_lost(item, multiple=Decimal("1.5"), processing_fee="20000")
    assert [(f.type, f.amount) for f in lost.fees] == [("lost", Decimal("120000")), ("processing", Decimal("20000"))]
