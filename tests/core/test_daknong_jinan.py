"""Dak Nong Provincial Library (cards, deposits, registration) and Jinan University Library (ILL)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ils_bridge.reasons import Reason
from tests.core.helpers import move_to, title_with_copies

TZ = "Asia/Ho_Chi_Minh"


@pytest.fixture
def daknong(make_library, clock):
    move_to(clock, dt.date(2026, 3, 2), TZ)
    return make_library("daknong")


def registered(lib, number, patron_type="reader"):
    assert lib.register_patron(number, f"Reader {number}", patron_type).data["status"] == "pending"
    assert lib.approve_patron(number, approver="librarian Hoa").ok
    return number


def test_online_registration_waits_for_a_librarian(daknong):
    daknong.register_patron("R1", "Nguyen Van A", "reader")
    daknong.issue_card("R1", "DN-1", kind="borrowing")
    book = title_with_copies(daknong, "B", "book")[0]
    assert daknong.checkout("R1", book).reason == Reason.PATRON_PENDING
    assert daknong.approve_patron("R1", approver="").reason == Reason.APPROVAL_REQUIRED
    assert daknong.approve_patron("R1", approver="librarian Hoa").ok
    assert daknong.approve_patron("R1", approver="librarian Hoa").reason == Reason.INVALID_STATE


def test_card_fees_and_one_year_validity(daknong):
    registered(daknong, "R1")
    registered(daknong, "R2")
    borrowing = daknong.issue_card("R1", "DN-1", kind="borrowing")
    reading = daknong.issue_card("R2", "DN-2", kind="reading")
    assert [f.amount for f in borrowing.fees] == [Decimal("20000")]
    assert [f.amount for f in reading.fees] == [Decimal("15000")]
    assert borrowing.data["valid_until"] == dt.date(2027, 3, 2)


def test_reading_card_does_not_borrow_and_borrowing_card_needs_50000_deposit(daknong):
    registered(daknong, "R1")
    registered(daknong, "R2")
    daknong.issue_card("R1", "DN-1", kind="borrowing")
    daknong.issue_card("R2", "DN-2", kind="reading")
    books = title_with_copies(daknong, "B", "book")
    assert daknong.checkout("DN-2", books[0]).reason == Reason.NOT_LOANABLE_TO_PATRON
    assert daknong.checkout("DN-1", books[0]).reason == Reason.DEPOSIT_REQUIRED
    daknong.take_deposit("R1", "50000", "VND")
    assert daknong.checkout("DN-1", books[0]).ok


def test_expired_card_is_refused_until_renewed(daknong, clock):
    registered(daknong, "R1")
    daknong.issue_card("R1", "DN-1", kind="borrowing")
    daknong.take_deposit("R1", "50000")
    book = title_with_copies(daknong, "B", "book")[0]
    move_to(clock, dt.date(2027, 3, 3), TZ)
    assert daknong.checkout("DN-1", book).reason == Reason.CARD_EXPIRED
    renewed = daknong.renew_card("DN-1")
    assert renewed.data["valid_until"] == dt.date(2027, 3, 3) + dt.timedelta(days=365) and [f.amount for f in renewed.fees] == [Decimal("20000")]
    assert daknong.checkout("DN-1", book).ok


def test_lost_card_is_reissued_as_a_new_card(daknong):
    registered(daknong, "R1")
    daknong.issue_card("R1", "DN-1", kind="borrowing")
    daknong.report_card_lost("DN-1")
    assert daknong.replace_card("DN-1").reason == Reason.INVALID_REQUEST
    replaced = daknong.replace_card("DN-1", new_number="DN-9")
    assert replaced.ok and replaced.data["number"] == "DN-9"
    assert daknong.patron_account("DN-9")["number"] == "R1"
    assert daknong.patron_account("DN-1")["card"]["number"] == "DN-9"


def test_group_card_200000_with_30_percent_off_below_10_members_by_approval(daknong):
    registered(daknong, "ORG1", "organisation")
    registered(daknong, "ORG2", "organisation")
    assert daknong.issue_group_card("ORG1", "G-1", members=25).fees[0].amount == Decimal("200000")
    assert daknong.issue_group_card("ORG2", "G-2", members=6).reason == Reason.APPROVAL_REQUIRED
    discounted = daknong.issue_group_card("ORG2", "G-2", members=6, approver="Director Tran")
    assert discounted.fees[0].amount == Decimal("140000") and discounted.rule == "cards:group.discount"


@pytest.fixture
def jinan(make_library, clock):
    move_to(clock, dt.date(2026, 3, 2), "Asia/Shanghai")
    return make_library("jinan")


def test_ill_subsidy_only_within_the_patrons_field(jinan):
    jinan.register_patron("S1", "Chen", "postgraduate", field="Medicine")
    jinan.issue_card("S1", "J-1", valid_until=dt.date(2029, 1, 1))
    inside = jinan.ill_request("S1", "A paper on cardiology", field="medicine").data["request_id"]
    outside = jinan.ill_request("S1", "A paper on poetry", field="literature").data["request_id"]
    for request in (inside, outside):
        assert jinan.ill_update(request, "sent").ok
    filled = jinan.ill_update(inside, "filled", cost="30.00", lender="Sun Yat-sen University Library")
    assert (filled.rule, filled.data["subsidy"]) == ("ill:subsidy", Decimal("30.00"))
    unsubsidised = jinan.ill_update(outside, "filled", cost="30.00")
    assert (unsubsidised.rule, unsubsidised.data["subsidy"]) == ("ill:outside_field", Decimal("0.00"))


def test_ill_states_follow_the_gateway(jinan):
    jinan.register_patron("S1", "Chen", "staff")
    jinan.issue_card("S1", "J-1", valid_until=dt.date(2029, 1, 1))
    request = jinan.ill_request("S1", "A rare monograph", kind="loan").data["request_id"]
    assert jinan.ill_update(request, "filled").reason == Reason.INVALID_STATE
    assert jinan.ill_update(request, "sent").ok
    assert jinan.ill_update(request, "not_filled").ok
    assert jinan.ill_update(request, "redirected", lender="National Library of China").ok
    assert jinan.ill_update(request, "sent").ok
    assert jinan.ill_update(999, "sent").reason == Reason.UNKNOWN_REQUEST
