"""Ho Chi Minh City General Sciences Library home loans: policies/examples/hcmc.yaml."""

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
    return make_library("hcmc")


def reader(lib, number, package=None):
    patron_with_card(lib, number, "reader", valid_until=None)
    if package:
        bought = lib.buy_package(number, package)
        assert bought.ok and [f.amount for f in bought.fees] == [lib.current_policy().packages[package].price]


def test_home_loans_need_a_package(lib):
    reader(lib, "R1")
    refused = lib.checkout("R1", title_with_copies(lib, "B", "book", price="50000")[0])
    assert (refused.reason, refused.rule) == (Reason.PACKAGE_REQUIRED, "loan:no-package")


def test_package_200k_refuses_a_third_item(lib):
    reader(lib, "R1", "package-200k")
    books = title_with_copies(lib, "B", "book", copies=3, price="50000")
    assert lib.checkout("R1", books[0]).ok and lib.checkout("R1", books[1]).ok
    third = lib.checkout("R1", books[2])
    assert (third.reason, third.rule) == (Reason.LIMIT_REACHED, "limit:package-package-200k")


def test_package_200k_refuses_an_item_pushing_the_total_over_300000(lib):
    reader(lib, "R1", "package-200k")
    dear = title_with_copies(lib, "D", "book", copies=2, price="200000")
    assert lib.checkout("R1", dear[0]).ok
    refused = lib.checkout("R1", dear[1])
    assert (refused.reason, refused.rule) == (Reason.PACKAGE_VALUE_EXCEEDED, "limit:package-package-200k")
    cheap = title_with_copies(lib, "C", "book", copies=2, price="100000")
    assert lib.checkout("R1", cheap[0]).ok  # exactly 300,000 is allowed


@pytest.mark.parametrize("package, items, value", [("package-300k", 3, "450000"), ("package-500k", 5, "750000")])
def test_bigger_packages(lib, package, items, value):
    reader(lib, "R1", package)
    books = title_with_copies(lib, "B", "book", copies=items + 1, price="10000")
    assert all(lib.checkout("R1", b).ok for b in books[:items])
    assert lib.checkout("R1", books[items]).reason == Reason.LIMIT_REACHED
    assert lib.current_policy().packages[package].max_value == Decimal(value)


def test_a_title_with_one_copy_is_not_loaned(lib):
    reader(lib, "R1", "package-500k")
    refused = lib.checkout("R1", title_with_copies(lib, "S", "book", copies=1, price="10000")[0])
    assert refused.reason == Reason.SINGLE_COPY_TITLE


def test_due_dates_never_fall_on_a_friday_or_a_holiday(lib, clock):
    reader(lib, "R1", "package-500k")
    books = title_with_copies(lib, "B", "book", copies=10, price="1000")
    for offset in range(7):
        day = dt.date(2026, 3, 2) + dt.timedelta(days=offset)
        move_to(clock, day, TZ)
        loan = lib.checkout("R1", books[offset])
        due = due_date(loan, TZ)
        assert due.weekday() != 4 and (due - day).days in (30, 31)
        lib.checkin(books[offset])
    move_to(clock, dt.date(2026, 8, 3), TZ)  # 30 days later is 2 Sep, National Day; 3 Sep is open
    assert due_date(lib.checkout("R1", books[8]), TZ) == dt.date(2026, 9, 3)


def test_overdue_fine_is_2000_per_day(lib, clock):
    reader(lib, "R1", "package-200k")
    book = title_with_copies(lib, "B", "book", price="50000")[0]
    loan = lib.checkout("R1", book)
    move_to(clock, due_date(loan, TZ) + dt.timedelta(days=4), TZ)
    assert [f.amount for f in lib.checkin(book).fees] == [Decimal("8000")]


def test_lost_item_costs_its_price_or_the_library_value_plus_30000(lib):
    reader(lib, "R1", "package-500k")
    new = title_with_copies(lib, "N", "book", price="120000")[0]
    old = title_with_copies(lib, "O", "book", price="20000", replacement_value="90000")[0]
    lib.checkout("R1", new)
    lib.checkout("R1", old)
    assert [(f.type, f.amount) for f in lib.report_lost(new).fees] == [("lost", Decimal("120000")), ("processing", Decimal("30000"))]
    assert [f.amount for f in lib.report_lost(old).fees] == [Decimal("90000"), Decimal("30000")]
