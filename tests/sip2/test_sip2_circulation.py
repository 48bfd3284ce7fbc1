"""SIP2 end to end on the example libraries: the PyPI ``sip2`` client (and exact frames) against our server over TCP."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ils_bridge.app import Library
from ils_bridge.clock import SettableClock
from ils_bridge.connectors.campus_auth import AuthOutcome, AuthResult
from ils_bridge.reasons import Reason
from sip2_server import Message
from sip2_server.config import Sip2Settings
from tests.core.helpers import patron_with_card, title_with_copies
from tests.sip2.sip2_world import (
    SHANGHAI,
    VI,
    XZ,
    ZH,
    books,
    make_library,
    screen,
    serving,
)

# ---------------------------------------------------------------- the PyPI client, a patron's visit

def test_a_patron_visit_with_the_sip2_client(server, xuzhou):
    item = books(xuzhou, "B", branch="main")[0]
    sip = server.sip2_client("kiosk-1", XZ, patron="U1", pin="1234")
    status = sip.sip_sc_status_response(sip.get_response(sip.sip_sc_status_request()))
    assert status["fixed"]["OnlineStatus"] == "Y"
    assert status["variable"]["AO"] == [XZ]

    patron = sip.sip_patron_status_response(sip.get_response(sip.sip_patron_status_request()))
    assert patron["variable"]["BL"] == ["Y"] and patron["variable"]["CQ"] == ["Y"]
    assert patron["variable"]["AE"] == ["Patron U1"]

    out = sip.sip_checkout_response(sip.get_response(sip.sip_checkout_request(item)))
    assert out["fixed"]["Ok"] == "1"
    assert out["variable"]["AJ"] == ["Title B"]
    due = xuzhou.patron_account("U1")["loans"][0]["due"].astimezone(SHANGHAI)
    assert out["variable"]["AH"] == [due.strftime("%Y%m%d    %H%M%S")]
    assert out["variable"]["AF"] == [ZH.text("checked_out", title="Title B", due=due.date().isoformat())]

    info = sip.sip_patron_information_response(sip.get_response(sip.sip_patron_information_request("charged")))
    assert info["fixed"]["ChargedItemsCount"] == "0001"
    assert info["variable"]["AU"] == [item]

    renewed = sip.sip_renew_response(sip.get_response(sip.sip_renew_request(item)))
    assert (renewed["fixed"]["Ok"], renewed["fixed"]["RenewalOk"]) == ("1", "Y")
    again = sip.sip_renew_response(sip.get_response(sip.sip_renew_request(item)))
    assert again["fixed"]["Ok"] == "0"
    assert again["variable"]["AF"] == [ZH.screen(Reason.RENEWAL_LIMIT)]

    back = sip.sip_checkin_response(sip.get_response(sip.sip_checkin_request(item)))
    assert (back["fixed"]["Ok"], back["fixed"]["Alert"]) == ("1", "N")
    assert xuzhou.patron_account("U1")["loans"] == []

    end = sip.sip_end_patron_session_response(sip.get_response(sip.sip_end_patron_session_request()))
    assert end["fixed"]["EndSession"] == "Y"
    sip.disconnect()


def test_wrong_pin_answers_cq_n_and_refuses_a_checkout(server, xuzhou):
    item = books(xuzhou, "B")[0]
    sip = server.sip2_client("kiosk-1", XZ, patron="U1", pin="9999")
    patron = sip.sip_patron_status_response(sip.get_response(sip.sip_patron_status_request()))
    assert patron["variable"]["CQ"] == ["N"] and patron["variable"]["BL"] == ["Y"]
    assert ZH.screen(Reason.BAD_PIN) in patron["variable"]["AF"]
    out = sip.sip_checkout_response(sip.get_response(sip.sip_checkout_request(item)))
    assert out["fixed"]["Ok"] == "0"
    assert xuzhou.patron_account("U1")["loans"] == []


def test_unknown_patron_is_not_valid(server):
    sip = server.sip2_client("kiosk-1", XZ, patron="NOBODY")
    patron = sip.sip_patron_status_response(sip.get_response(sip.sip_patron_status_request()))
    assert patron["variable"]["BL"] == ["N"]
    assert patron["fixed"]["PatronStatus"] == "YYYY          "
    assert patron["variable"]["AF"] == [ZH.screen(Reason.UNKNOWN_PATRON)]


def test_refused_checkout_says_why_in_chinese(server, xuzhou):
    reference = title_with_copies(xuzhou, "R", "reference")[0]
    sip = server.sip2_client("kiosk-1", XZ, patron="U1")
    out = sip.sip_checkout_response(sip.get_response(sip.sip_checkout_request(reference)))
    assert out["fixed"]["Ok"] == "0"
    assert out["variable"]["AF"] == ["此资料仅限馆内阅览。"]
    assert out["variable"]["AG"] == [ZH.print_line(Reason.NOT_LOANABLE)]


def test_patron_information_lists_respect_the_item_range(server, xuzhou):
    items = books(xuzhou, "B", copies=5)
    raw = server.raw("kiosk-1")
    for item in items:
        assert raw.checkout(XZ, "U1", item).fixed["ok"] == "1"
    request = Message("63", {"language": "000", "transaction_date": None, "summary": "  Y       "})
    request.add("AO", XZ).add("AA", "U1").add("BP", "2").add("BQ", "3")
    reply = raw.request(request)
    assert reply.fixed["charged_items_count"] == "0005"
    loaned = [loan["item"] for loan in xuzhou.patron_account("U1")["loans"]]
    assert reply.get_all("AU") == loaned[1:3]
    assert reply.get_all("AT") == []  # only the list the summary asked for


# ---------------------------------------------------------------- holds, trapping and sort bins

def test_checkin_traps_the_hold_with_alert_destination_and_sort_bin(server, xuzhou):
    item = books(xuzhou, "H", branch="main")[0]
    raw = server.raw("kiosk-1")
    assert raw.checkout(XZ, "U2", item).fixed["ok"] == "1"
    hold = Message("15", {"hold_mode": "+", "transaction_date": None})
    hold.add("AO", XZ).add("AA", "U1").add("AB", item).add("BS", "east")
    placed = raw.request(hold)
    assert (placed.fixed["ok"], placed.get("BR")) == ("1", "1")
    assert screen(placed) == [ZH.text("hold_placed", position=1)]

    back = raw.checkin(XZ, item, location="main")
    assert (back.fixed["ok"], back.fixed["alert"]) == ("1", "Y")
    assert back.get("CT") == "east" and back.get("CV") == "02"  # the hold is for another branch
    assert back.get("CL") == "H"
    assert ZH.text("hold_in_transit", patron="Patron U1", branch="east") in screen(back)
    assert xuzhou.item_info(item)["hold_for"] == "U1"


def test_checkin_without_a_hold_sorts_by_home_branch(server, xuzhou):
    item = books(xuzhou, "S", branch="east")[0]
    raw = server.raw("kiosk-1")
    raw.checkout(XZ, "U1", item)
    back = raw.checkin(XZ, item)
    assert (back.fixed["alert"], back.get("CL"), back.get("AQ")) == ("N", "E", "east")
    assert "CT" not in back.fields


# ---------------------------------------------------------------- money

def overdue_fine(xuzhou: Library, clock: SettableClock, raw) -> tuple[str, Decimal]:
    item = books(xuzhou, "F")[0]
    start = dt.datetime(2026, 3, 2, 10, tzinfo=SHANGHAI)  # 70 days later is in term time: no grace
    clock.set(start)
    raw.checkout(XZ, "U1", item)
    clock.set(start + dt.timedelta(days=70))  # 10 days overdue
    back = raw.checkin(XZ, item)
    owed = Decimal(xuzhou.patron_account("U1")["fees_owed"])
    assert owed > 0 and ZH.text("fee_charged", amount=owed, currency="CNY") in screen(back)
    return item, owed


def fee_paid(raw, amount: str, currency: str, transaction: str, date: dt.datetime | None = None) -> Message:
    message = Message("37", {"transaction_date": date, "fee_type": "04", "payment_type": "00", "currency_type": currency})
    message.add("BV", amount).add("AO", XZ).add("AA", "U1").add("BK", transaction)
    return raw.request(message)


def test_fee_paid_in_the_library_currency_only(server, xuzhou, clock):
    raw = server.raw("kiosk-1")
    _, owed = overdue_fine(xuzhou, clock, raw)
    status = raw.request(Message("23", {"language": "000", "transaction_date": None}).add("AO", XZ).add("AA", "U1").add("AC", "").add("AD", ""))
    assert (status.get("BH"), Decimal(status.get("BV"))) == ("CNY", owed)
    assert status.fixed["patron_status"][10] == "Y"  # excessive outstanding fines

    wrong = fee_paid(raw, str(owed), "USD", "tx-1")
    assert wrong.fixed["payment_accepted"] == "N" and wrong.get("BK") == "tx-1"
    assert screen(wrong) == [ZH.screen(Reason.WRONG_CURRENCY, currency="CNY")]
    paid = fee_paid(raw, str(owed), "CNY", "tx-2")
    assert paid.fixed["payment_accepted"] == "Y" and paid.get("BK") == "tx-2"
    assert Decimal(xuzhou.patron_account("U1")["fees_owed"]) == 0


def test_a_resent_fee_payment_is_recorded_once(server, xuzhou, clock):
    raw = server.raw("kiosk-1")
    _, owed = overdue_fine(xuzhou, clock, raw)
    half = str(owed / 2)
    when = clock.now().astimezone(SHANGHAI).replace(tzinfo=None)
    first = fee_paid(raw, half, "CNY", "tx-9", when)
    resent = fee_paid(server.raw("kiosk-1"), half, "CNY", "tx-9", when)  # after a reconnect
    assert first.fixed["payment_accepted"] == resent.fixed["payment_accepted"] == "Y"
    assert Decimal(xuzhou.patron_account("U1")["fees_owed"]) == owed - Decimal(half)


# ---------------------------------------------------------------- offline and resent transactions

def test_no_block_checkout_is_replayed_at_its_own_date(server, xuzhou, clock):
    item = books(xuzhou, "N")[0]
    offline_at = (clock.now() - dt.timedelta(days=3)).astimezone(SHANGHAI).replace(tzinfo=None, microsecond=0)
    reply = server.raw("kiosk-1").checkout(XZ, "U1", item, date=offline_at, no_block=True)
    assert reply.fixed["ok"] == "1"
    loan = xuzhou.patron_account("U1")["loans"][0]
    assert loan["due"].astimezone(SHANGHAI).date() == offline_at.date() + dt.timedelta(days=60)


def test_a_resent_checkout_is_applied_once(server, xuzhou, clock):
    item = books(xuzhou, "R")[0]
    when = clock.now().astimezone(SHANGHAI).replace(tzinfo=None, microsecond=0)
    raw = server.raw("kiosk-1")
    assert raw.checkout(XZ, "U1", item, date=when).fixed["ok"] == "1"
    assert raw.checkin(XZ, item, date=when + dt.timedelta(seconds=5)).fixed["ok"] == "1"
    # The first checkout's reply was lost; the terminal reconnects and resends it.
    resent = server.raw("kiosk-1").checkout(XZ, "U1", item, date=when)
    assert resent.fixed["ok"] == "1"  # the first answer, replayed ...
    assert xuzhou.patron_account("U1")["loans"] == []  # ... without lending the item again
    # A new transaction (new date) is a new checkout.
    assert raw.checkout(XZ, "U1", item, date=when + dt.timedelta(seconds=9)).fixed["ok"] == "1"
    assert len(xuzhou.patron_account("U1")["loans"]) == 1


def test_renewal_via_checkout_when_the_terminal_allows_it(server, xuzhou):
    item = books(xuzhou, "V")[0]
    server.add_terminal("xuzhou", "kiosk-renew", XZ, renew_via_checkout=True)
    plain, renewing = server.raw("kiosk-1"), server.raw("kiosk-renew")
    assert plain.checkout(XZ, "U1", item).fixed["ok"] == "1"
    again = plain.checkout(XZ, "U1", item)
    assert again.fixed["ok"] == "0"
    renewed = renewing.checkout(XZ, "U1", item)
    assert (renewed.fixed["ok"], renewed.fixed["renewal_ok"]) == ("1", "Y")
    assert xuzhou.patron_account("U1")["loans"][0]["renewals"] == 1


# ---------------------------------------------------------------- terminals: permissions, institution, passwords

def test_gate_may_only_ask_about_items(server, xuzhou):
    item = books(xuzhou, "G")[0]
    server.add_terminal("xuzhou", "gate-1", XZ, kind="gate")
    gate = server.raw("gate-1")
    refused = gate.checkout(XZ, "U1", item)
    assert refused.fixed["ok"] == "0"
    assert screen(refused) == [ZH.text("operation_not_permitted", message="11 Checkout")]
    assert xuzhou.patron_account("U1")["loans"] == []
    info = gate.item_information(XZ, item)
    assert (info.fixed["circulation_status"], info.get("AJ")) == ("03", "Title G")
    status = gate.status()
    announced = {rid for rid, flag in zip(("23", "11", "09", "01", "99", "97", "93", "63", "35", "37", "17", "19",
                                           "25", "15", "29", "65"), status.get("BX")) if flag == "Y"}
    assert announced == {"17", "93", "97", "99"}
    assert status.fixed["checkout_ok"] == "N"


def test_item_information_after_checkout(server, xuzhou):
    item = books(xuzhou, "I", branch="east")[0]
    raw = server.raw("kiosk-1")
    raw.checkout(XZ, "U1", item)
    info = raw.item_information(XZ, item)
    due = xuzhou.item_info(item)["due"].astimezone(SHANGHAI)
    assert (info.fixed["circulation_status"], info.get("AH"), info.get("AQ")) == ("04", due.strftime("%Y%m%d    %H%M%S"), "east")
    missing = raw.item_information(XZ, "NO-SUCH")
    assert missing.fixed["circulation_status"] == "01" and screen(missing) == [ZH.screen(Reason.UNKNOWN_ITEM)]


def test_wrong_institution_is_refused(server, xuzhou):
    item = books(xuzhou, "W")[0]
    refused = server.raw("kiosk-1").checkout("OTHER-UNI", "U1", item)
    assert refused.fixed["ok"] == "0" and refused.get("AO") == XZ
    assert screen(refused) == [ZH.text("wrong_institution", institution=XZ)]
    assert xuzhou.patron_account("U1")["loans"] == []


def test_wrong_terminal_password_disabled_and_rotated_accounts(server, xuzhou):
    item = books(xuzhou, "P")[0]
    raw = server.raw()
    assert raw.login("kiosk-1", "not-it").fixed["ok"] == "0"
    refused = raw.checkout(XZ, "U1", item)
    assert refused.fixed["ok"] == "0" and screen(refused) == ["This terminal has not logged in."]
    assert server.raw().status().fixed["online_status"] == "N"

    logged_in = server.raw("kiosk-1")
    bad_ac = logged_in.checkout(XZ, "U1", item, AC="guess")
    assert bad_ac.fixed["ok"] == "0" and screen(bad_ac) == [ZH.text("wrong_terminal_password")]

    server.backend.terminals.rotate_password("kiosk-1", "new-secret")
    assert server.raw().login("kiosk-1").fixed["ok"] == "0"
    assert server.raw().login("kiosk-1", "new-secret").fixed["ok"] == "1"
    server.backend.terminals.disable("kiosk-1")
    assert server.raw().login("kiosk-1", "new-secret").fixed["ok"] == "0"


def test_per_terminal_encoding_language_and_hidden_fields(server, xuzhou):
    xuzhou.register_patron("E1", "Zoë Café", "undergraduate", email="zoe@example.org")
    xuzhou.issue_card("E1", "C-E1", valid_until=dt.date(2030, 1, 1))
    server.add_terminal("xuzhou", "kiosk-latin", XZ, encoding="cp1252", language="en", hide_fields=["BE"],
                        terminator="CRLF")
    from sip2_server import Codec
    raw = server.raw(codec=Codec(encoding="cp1252"))
    raw.login("kiosk-latin")
    request = Message("63", {"language": "001", "transaction_date": None, "summary": " " * 10}).add("AO", XZ).add("AA", "E1")
    frame = raw.exchange(raw.codec.encode(request))
    assert frame.endswith(b"\r\n") and "Zoë Café".encode("cp1252") in frame
    reply = raw.codec.decode(frame)
    assert reply.get("AE") == "Zoë Café" and "BE" not in reply.fields
    assert reply.fixed["language"] == "001"


def test_staff_terminal_blocks_and_enables_a_patron_and_updates_an_item(server, xuzhou):
    item = books(xuzhou, "U")[0]
    server.add_terminal("xuzhou", "desk-1", XZ, kind="staff", language="en")
    raw = server.raw("desk-1")
    block = Message("01", {"card_retained": "Y", "transaction_date": None}).add("AO", XZ).add("AL", "card kept").add("AA", "U1").add("AC", "")
    blocked = raw.request(block)
    assert blocked.id == "24" and blocked.fixed["patron_status"][0] == "Y"
    assert raw.checkout(XZ, "U1", item).fixed["ok"] == "0"
    enable = Message("25", {"transaction_date": None}).add("AO", XZ).add("AA", "U1")
    enabled = raw.request(enable)
    assert enabled.fixed["patron_status"] == " " * 14 and "The account is enabled again." in screen(enabled)
    update = Message("19", {"transaction_date": None}).add("AO", XZ).add("AB", item).add("CH", "location=stacks-2")
    assert raw.request(update).fixed["item_properties_ok"] == "1"
    assert xuzhou.item_info(item)["location"] == "stacks-2"
    bad = Message("19", {"transaction_date": None}).add("AO", XZ).add("AB", item).add("CH", "terminal=evil")
    assert raw.request(bad).fixed["item_properties_ok"] == "0"


def test_renew_all_lists_renewed_and_refused(server, xuzhou):
    items = books(xuzhou, "A", copies=2)
    raw = server.raw("kiosk-1")
    for item in items:
        raw.checkout(XZ, "U1", item)
    assert xuzhou.renew("U1", items[0]).ok
    renew_all = Message("65", {"transaction_date": None}).add("AO", XZ).add("AA", "U1")
    reply = raw.request(renew_all)
    assert (reply.fixed["ok"], reply.fixed["renewed_count"], reply.fixed["unrenewed_count"]) == ("1", "0001", "0001")
    assert reply.get_all("BM") == [items[1]] and reply.get_all("BN") == [items[0]]


# ---------------------------------------------------------------- delegated patron authentication

class CampusStub:
    def __init__(self, outcome: AuthOutcome) -> None:
        self.outcome = outcome
        self.asked: list[str] = []

    def authenticate(self, number: str, password: str) -> AuthResult:
        self.asked.append(number)
        return AuthResult(self.outcome)


@pytest.mark.parametrize("outcome,valid", [(AuthOutcome.ACCEPTED, "Y"), (AuthOutcome.REJECTED, "N"),
                                           (AuthOutcome.UNAVAILABLE, "N")])
def test_campus_authentication_never_accepts_when_unavailable(sqlite_app, xuzhou, outcome, valid):
    campus = CampusStub(outcome)
    with serving(sqlite_app, Sip2Settings(patron_auth="campus"), campus_auth=campus) as srv:
        srv.add_terminal("xuzhou", "kiosk-c", XZ)
        item = books(xuzhou, "K")[0]
        raw = srv.raw("kiosk-c")
        status = raw.request(Message("23", {"language": "000", "transaction_date": None})
                             .add("AO", XZ).add("AA", "U2").add("AC", "").add("AD", "campus-pw"))
        assert status.get("CQ") == valid and campus.asked == ["U2"]
        if outcome is AuthOutcome.UNAVAILABLE:
            assert ZH.screen(Reason.AUTH_UNAVAILABLE) in screen(status)
        out = raw.checkout(XZ, "U2", item, AD="campus-pw")
        assert out.fixed["ok"] == ("1" if valid == "Y" else "0")


# ---------------------------------------------------------------- Ho Chi Minh City, in Vietnamese

def test_hcmc_checkout_needs_a_package_and_says_so_in_vietnamese(sqlite_app):
    hcmc = make_library(sqlite_app, "hcmc")
    patron_with_card(hcmc, "R1", "reader")
    items = title_with_copies(hcmc, "H", "book", copies=2, price="100000")
    with serving(sqlite_app) as srv:
        srv.add_terminal("hcmc", "hcm-kiosk", "HCMGSL")
        sip = srv.sip2_client("hcm-kiosk", "HCMGSL", patron="R1")
        refused = sip.sip_checkout_response(sip.get_response(sip.sip_checkout_request(items[0])))
        assert refused["fixed"]["Ok"] == "0"
        assert refused["variable"]["AF"] == [VI.screen(Reason.PACKAGE_REQUIRED)]
        assert hcmc.buy_package("R1", "package-200k").ok
        out = sip.sip_checkout_response(sip.get_response(sip.sip_checkout_request(items[0])))
        assert out["fixed"]["Ok"] == "1" and out["variable"]["AF"][0].startswith("Đã mượn")
        sip.disconnect()


def test_hold_and_fee_paid_with_the_sip2_client(server, xuzhou, clock):
    raw = server.raw("kiosk-1")
    _, owed = overdue_fine(xuzhou, clock, raw)
    wanted = books(xuzhou, "W2")[0]
    raw.checkout(XZ, "U2", wanted)
    sip = server.sip2_client("kiosk-1", XZ, patron="U1", pin="1234")
    hold = sip.sip_hold_response(sip.get_response(sip.sip_hold_request("+", itemIdentifier=wanted, pickupLocation="main")))
    assert hold["fixed"]["Ok"] == "1"
    assert [h["title"] for h in xuzhou.patron_account("U1")["holds"]] == ["Title W2"]
    paid = sip.sip_fee_paid_response(sip.get_response(sip.sip_fee_paid_request(4, 0, str(owed), transactionId="rcpt-1",
                                                                                currencyType="CNY")))
    assert paid["fixed"]["PaymentAccepted"] == "Y" and paid["variable"]["BK"] == ["rcpt-1"]
    assert Decimal(xuzhou.patron_account("U1")["fees_owed"]) == 0
    sip.disconnect()


def test_hold_for_this_branch_goes_on_the_shelf_here(server, xuzhou):
    item = books(xuzhou, "L", branch="main")[0]
    raw = server.raw("kiosk-1")
    raw.checkout(XZ, "U2", item)
    assert xuzhou.place_hold("U1", item=item, pickup_branch="main").ok
    back = raw.checkin(XZ, item)
    assert (back.fixed["alert"], back.get("CT"), back.get("CV"), back.get("CL")) == ("Y", "main", "01", "H")
    assert ZH.text("hold_trapped", patron="Patron U1", branch="main") in screen(back)


def test_return_date_of_a_book_drop_return_is_the_loan_end(server, xuzhou, clock):
    item = books(xuzhou, "D")[0]
    clock.set(dt.datetime(2026, 3, 2, 10, tzinfo=SHANGHAI))
    raw = server.raw("kiosk-1")
    raw.checkout(XZ, "U1", item)  # due 2026-05-01
    clock.set(dt.datetime(2026, 5, 11, 9, tzinfo=SHANGHAI))
    dropped = dt.datetime(2026, 4, 30, 20, 0)  # local time, in the book drop before the due date
    back = raw.checkin(XZ, item, date=dt.datetime(2026, 5, 11, 9, 0), returned=dropped, no_block=True)
    assert back.fixed["ok"] == "1"
    account = xuzhou.patron_account("U1")
    assert account["loans"] == [] and Decimal(account["fees_owed"]) == 0
