"""Notices queued by real circulation events and daily jobs, then delivered through mocked gateways."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import responses
from sqlalchemy import func, select

from ils_bridge.app import App, Library
from ils_bridge.clock import SettableClock
from ils_bridge.connectors.notices import TemplateCatalogue, deliver_due, gateways_from_config
from ils_bridge.storage.schema import notices_outbox
from tests.conftest import example_policy
from tests.core.helpers import due_date, move_to, title_with_copies

TZ = "Asia/Shanghai"
GATEWAYS = {"gateways": {channel: {"base_url": f"https://{channel}.example.edu/", "retries": 1}
                         for channel in ("email", "sms", "wechat")}}


@pytest.fixture
def lib(make_library) -> Library:
    return make_library("xuzhou")  # channels email, sms, wechat; due_soon_days 3; 0.10 CNY a day


def reader(lib: Library, number: str, **contact: str) -> str:
    assert lib.register_patron(number, f"Reader {number}", "undergraduate", **contact).ok
    assert lib.issue_card(number, f"C-{number}", valid_until=dt.date(2030, 1, 1)).ok
    return number


def outbox(lib: Library, kind: str | None = None) -> list:
    query = select(notices_outbox).order_by(notices_outbox.c.id)
    if kind is not None:
        query = query.where(notices_outbox.c.kind == kind)
    return lib.app.db.read(lambda c: c.execute(query).all())


def count(lib: Library) -> int:
    return lib.app.db.read(lambda c: c.execute(select(func.count()).select_from(notices_outbox)).scalar_one())


def test_overdue_and_due_soon_from_run_jobs_carry_the_template_variables_once_a_day(lib, clock) -> None:
    reader(lib, "U1", email="u1@example.edu")
    [book] = title_with_copies(lib, "SS", "zh_book", copies=1, classification="D61")
    due = due_date(lib.checkout("U1", book), TZ)

    move_to(clock, due - dt.timedelta(days=3), TZ)
    assert lib.run_jobs().ok and lib.run_jobs().ok
    soon = outbox(lib, "due_soon")
    assert {n.channel for n in soon} == {"email", "wechat"}  # no phone: no sms
    assert soon[0].payload == {"loan_id": soon[0].payload["loan_id"], "title": "Title SS", "barcode": "SS-0",
                               "due_date": due.isoformat()}

    move_to(clock, due + dt.timedelta(days=2), TZ)
    first = lib.run_jobs()
    before = count(lib)
    second = lib.run_jobs()
    assert first.data["overdue"] == second.data["overdue"] == 1
    assert count(lib) == before  # the second run of the day queued nothing
    overdue = outbox(lib, "overdue")
    assert len(overdue) == 2 and overdue[0].payload["days_overdue"] == 2
    assert overdue[0].payload["due_date"] == due.isoformat() and overdue[0].payload["title"] == "Title SS"

    move_to(clock, due + dt.timedelta(days=3), TZ)
    lib.run_jobs()
    assert len(outbox(lib, "overdue")) == 4  # a new day, a new reminder


def test_hold_trapped_at_checkin_queues_recall_then_hold_ready(lib, clock) -> None:
    reader(lib, "U1", email="u1@example.edu")
    reader(lib, "U2", email="u2@example.edu", phone="+8613800000000")
    [book] = title_with_copies(lib, "NS", "zh_book", copies=1, classification="R44")
    due = due_date(lib.checkout("U1", book), TZ)
    assert lib.place_hold("U2", item=book).ok

    [recall] = [n for n in outbox(lib, "recall") if n.channel == "email"]
    assert recall.payload["due_date"] == due.isoformat() and recall.payload["title"] == "Title NS"

    checkin = lib.checkin(book)
    ready = outbox(lib, "hold_ready")
    assert {n.channel for n in ready} == {"email", "sms", "wechat"}
    assert ready[0].payload["shelf_expires_on"] == checkin.data["hold"]["shelf_expires_on"]
    assert ready[0].payload["pickup_branch"] == "Xuzhou Medical University Library"  # the item has no branch
    assert ready[0].payload["barcode"] == book


def test_overdue_fine_charged_at_checkin_queues_a_fine_notice(lib, clock) -> None:
    reader(lib, "U1", email="u1@example.edu")
    [book] = title_with_copies(lib, "SS", "zh_book", copies=1, classification="D61")
    due = due_date(lib.checkout("U1", book), TZ)
    move_to(clock, due + dt.timedelta(days=5), TZ)

    checkin = lib.checkin(book)

    [fee] = checkin.fees
    [fine] = [n for n in outbox(lib, "fine") if n.channel == "email"]
    assert fine.payload == {"fee_type": "overdue", "amount": str(fee.amount), "currency": "CNY",
                            "title": "Title SS", "barcode": "SS-0"}
    assert lib.checkin(book).ok is False and len(outbox(lib, "fine")) == 2  # nothing more on a repeated checkin


def test_lost_damage_and_theft_charges_each_queue_one_fine_notice(lib, clock) -> None:
    reader(lib, "U1", email="u1@example.edu")
    lost_book, damaged_book = title_with_copies(lib, "LD", "zh_book", copies=2, classification="D61", price="30.00",
                                                 pub_year=2010)
    due = due_date(lib.checkout("U1", lost_book), TZ)
    move_to(clock, due + dt.timedelta(days=4), TZ)

    lost = lib.report_lost(lost_book)
    assert lost.ok and len(lost.fees) == 2  # the price, the overdue days: one bill
    damage = lib.charge_damage(damaged_book, "barcode", patron="U1", units=2)
    theft = lib.charge_theft("U1", [damaged_book])

    fines = [n.payload for n in outbox(lib, "fine") if n.channel == "email"]
    assert fines == [
        {"fee_type": "lost", "amount": str(sum(f.amount for f in lost.fees)), "currency": "CNY",
         "title": "Title LD", "barcode": lost_book},
        {"fee_type": "barcode", "amount": str(damage.fees[0].amount), "currency": "CNY",
         "title": "Title LD", "barcode": damaged_book},
        {"fee_type": "theft", "amount": str(theft.fees[0].amount), "currency": "CNY"},
    ]
    assert lib.report_lost(lost_book).ok is False and len(outbox(lib, "fine")) == 2 * 3  # email and wechat each


def test_card_expiring_notice_once_per_card_and_validity(app: App, clock: SettableClock) -> None:
    policy = example_policy("xuzhou").replace("  due_soon_days: 3\n", "  due_soon_days: 3\n  card_expiring_days: 14\n")
    lib = app.create_library(policy, author="test")
    assert lib.register_patron("U1", "Reader U1", "undergraduate", email="u1@example.edu").ok
    assert lib.register_patron("U2", "Reader U2", "undergraduate", email="u2@example.edu").ok
    assert lib.issue_card("U1", "C-U1", valid_until=dt.date(2026, 3, 10)).ok
    assert lib.issue_card("U2", "C-U2", valid_until=dt.date(2026, 6, 1)).ok

    assert lib.run_jobs().data["card_expiring"] == 1 and lib.run_jobs().ok
    expiring = outbox(lib, "card_expiring")
    assert [(n.channel, n.payload) for n in expiring if n.channel == "email"] == [
        ("email", {"card_number": "C-U1", "valid_until": "2026-03-10"})]
    assert len(expiring) == 2  # email and wechat, once

    assert lib.renew_card("C-U1", valid_until=dt.date(2026, 3, 12)).ok
    lib.run_jobs()
    assert len(outbox(lib, "card_expiring")) == 4  # a new validity date is a new notice


@responses.activate
def test_queued_notices_are_delivered_once_through_the_gateways(lib, clock) -> None:
    reader(lib, "U1", email="u1@example.edu")
    [book] = title_with_copies(lib, "SS", "zh_book", copies=1, classification="D61")
    due = due_date(lib.checkout("U1", book), TZ)
    move_to(clock, due + dt.timedelta(days=2), TZ)
    lib.run_jobs()
    for channel in ("email", "wechat"):
        responses.post(f"https://{channel}.example.edu/send", json={"ok": True})
    gateways, templates = gateways_from_config(GATEWAYS), TemplateCatalogue()

    report = deliver_due(lib.app.db.engine, clock.now(), gateways=gateways, templates=templates)

    assert len(report.sent) == 2 and not report.dead and not report.retrying
    email = next(json.loads(c.request.body) for c in responses.calls if c.request.url.startswith("https://email"))
    assert email["to"] == "u1@example.edu" and email["language"] == "zh" and email["kind"] == "overdue"
    assert "Title SS" in email["text"] and due.isoformat() in email["text"]
    assert "Xuzhou Medical University Library" in email["subject"]

    lib.run_jobs()
    again = deliver_due(lib.app.db.engine, clock.now(), gateways=gateways, templates=templates)
    assert again.sent == [] and len(responses.calls) == 2


def test_deposit_deduction_for_a_long_overdue_loan_notifies_amount_and_balance(make_library, clock) -> None:
    lib = make_library("danang")  # 10 % of the deposit a day after 30 days overdue; VND
    assert lib.register_patron("G1", "Reader G1", "undergraduate", patron_group="member_student",
                               email="g1@example.edu").ok
    assert lib.issue_card("G1", "C-G1", valid_until=dt.date(2030, 1, 1)).ok
    assert lib.take_deposit("G1", "100000").ok
    book = title_with_copies(lib, "M", "vn_monograph", copies=2, language="vie")[0]  # single copies stay in
    due = due_date(lib.checkout("G1", book), "Asia/Ho_Chi_Minh")
    move_to(clock, due + dt.timedelta(days=31), "Asia/Ho_Chi_Minh")

    [deduction] = lib.run_jobs().data["deposit_deductions"]
    lib.run_jobs()

    [notice] = outbox(lib, "deposit_deducted")
    assert notice.payload == {"amount": str(deduction["amount"]), "currency": "VND",
                              "balance": str(lib.patron_account("G1")["deposit"])}
